"""Drawing HDR's results as one panel per image.

The panel (:meth:`HDRHandVisualizer.draw_panel`, also what
``add_datasample`` and so ``HDRInferencer(..., vis_out_dir=...)`` draw):

- the input with HASM's masks laid over it (right red, left blue; amodal
  light, visible dark), each hand's box and both 2D skeletons, drawn
  thick enough to read at the panel's size;
- per hand, its crop before and after TDR (left hands mirrored, as every
  stage after HASM sees them) and its 3D skeleton, each axis fitted to
  that hand;
- both hands placed in the camera frame (each wrist at its estimated
  position, ``root_cam``), from the camera's point of view.

mmpose's ``Pose3dLocalVisualizer`` draws the 2D skeletons and is reused
for that. Its 3D part is replaced, for two reasons:

- it turns the figure into an array with ``FigureCanvasAgg.tostring_rgb``,
  which matplotlib removed in 3.10 (our stack has 3.11), so it fails on
  every call;
- it plots all 42 joints in one axis with ``u, v`` in pixels and ``z`` in
  mm, whereas HDR's ``keypoints_3d`` are each hand's joints relative to
  its own wrist, in mm: each hand gets its own axis here, at true scale.

The figures are drawn on an Agg canvas that is never attached to pyplot,
so drawing works headless and leaves pyplot's global state alone.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from mmengine.structures import InstanceData
from mmpose.registry import VISUALIZERS
from mmpose.structures import PoseDataSample
from mmpose.visualization import Pose3dLocalVisualizer

from hdr_mm.structures import HANDS, NUM_HAND_JOINTS, crop_warp_matrix

#: RGB 0-255 of each hand's masks over the image: (amodal, visible)
MASK_COLORS = {
    'right': ((255, 150, 150), (220, 30, 30)),
    'left': ((150, 170, 255), (30, 80, 230)),
}
#: camera frame (x right, y down, z away) -> plot frame (x, depth, up)
_CAMERA_TO_PLOT = np.array([[1., 0., 0.], [0., 0., -1.], [0., 1., 0.]])


def figure_to_rgb(fig: Figure) -> np.ndarray:
    """Render a matplotlib figure to an RGB array.

    Args:
        fig: A figure; an Agg canvas is attached if it has none.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB, H and W the figure size in pixels.
    """
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def hand_links(skeleton_links: Sequence[Tuple[int, int]],
               hand: int) -> Tuple[np.ndarray, np.ndarray]:
    """The links of one hand of the 42-joint skeleton, in that hand's own
    joint indices.

    Args:
        skeleton_links: (i, j) pairs over the 42 joints (dataset meta
            ``skeleton_links``).
        hand: 0 right, 1 left.

    Returns:
        tuple: ``links`` (L, 2) int indices in 0..20 and ``which`` (L,)
        the positions of these links in ``skeleton_links`` (for colours).
    """
    lo, hi = hand * NUM_HAND_JOINTS, (hand + 1) * NUM_HAND_JOINTS
    links, which = [], []
    for k, (i, j) in enumerate(skeleton_links):
        if lo <= i < hi and lo <= j < hi:
            links.append((i - lo, j - lo))
            which.append(k)
    return (np.asarray(links, np.int64).reshape(-1, 2),
            np.asarray(which, np.int64))


def draw_hand_3d(ax,
                 joints: np.ndarray,
                 valid: np.ndarray,
                 links: np.ndarray,
                 link_colors: Optional[np.ndarray] = None,
                 joint_colors: Optional[np.ndarray] = None,
                 min_extent: float = 60.,
                 elev: float = 15.,
                 azim: float = -115.,
                 title: str = '') -> None:
    """Draw one hand's 3D skeleton on a matplotlib 3D axis.

    The joints are given in the camera frame (x right, y down, z away from
    the camera) and shown with "up" up and depth into the plot, on equal
    axes so bone lengths are true.

    Args:
        ax: A ``projection='3d'`` axis.
        joints: (21, 3) joints, mm.
        valid: (21,) bool, joints to draw; links need both ends valid.
        links: (L, 2) joint index pairs.
        link_colors: (L, 3) RGB 0-255 per link; default grey.
        joint_colors: (21, 3) RGB 0-255 per joint; default grey.
        min_extent: Smallest side of the plotted cube (mm), so a
            degenerate hand is not blown up; otherwise the cube is fitted
            to the hand.
        elev: Elevation of the view (degrees).
        azim: Azimuth of the view (degrees).
        title: Axis title.
    """
    ax.view_init(elev=elev, azim=azim)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_zticks([])
    if title:
        ax.set_title(title, fontsize=9)
    pts = np.asarray(joints, np.float64) @ _CAMERA_TO_PLOT
    valid = np.asarray(valid, bool) & np.isfinite(pts).all(axis=1)
    if valid.any():
        centre = pts[valid].mean(axis=0)
        extent = max(min_extent, 1.1 * float(np.ptp(pts[valid], axis=0)
                                             .max()))
    else:
        centre, extent = np.zeros(3), min_extent
    for dim, set_lim in enumerate((ax.set_xlim3d, ax.set_ylim3d,
                                   ax.set_zlim3d)):
        set_lim(centre[dim] - extent / 2, centre[dim] + extent / 2)
    ax.set_box_aspect((1, 1, 1), zoom=1.2)
    if not valid.any():
        return
    grey = np.array([128., 128., 128.])
    for k, (i, j) in enumerate(links):
        if valid[i] and valid[j]:
            color = grey if link_colors is None else link_colors[k]
            ax.plot(pts[[i, j], 0], pts[[i, j], 1], pts[[i, j], 2],
                    color=np.asarray(color, float) / 255., linewidth=2.5)
    colors = np.tile(grey, (len(pts), 1)) if joint_colors is None else \
        np.asarray(joint_colors, float)
    ax.scatter(pts[valid, 0], pts[valid, 1], pts[valid, 2],
               c=colors[valid] / 255., s=14, depthshade=False)


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else \
        np.asarray(x)


def masks_over_image(image: np.ndarray, masks: np.ndarray,
                     names: Sequence[str], center: Sequence[float],
                     side: float, alpha: float = 0.45) -> np.ndarray:
    """Lay HASM's masks (on the two-hand crop) over the image.

    Args:
        image: (H, W, 3) uint8 RGB.
        masks: (4, S, S) 0/1 masks on the two-hand crop.
        names: Their names (``r_amodal``, ``l_visible``, ...).
        center: (2,) the two-hand crop's centre in image pixels.
        side: Its side in image pixels.
        alpha: Opacity of the colours.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    h, w = image.shape[:2]
    mat = crop_warp_matrix(center, side, masks.shape[-1])
    out = image.astype(np.float32)
    idx = {n: i for i, n in enumerate(names)}
    for hand in HANDS:
        for kind, color in zip(('amodal', 'visible'), MASK_COLORS[hand]):
            name = f'{hand[0]}_{kind}'
            if name not in idx:
                continue
            m = cv2.warpAffine(
                masks[idx[name]].astype(np.uint8), mat, (w, h),
                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
            out[m] = (1 - alpha) * out[m] + alpha * np.asarray(color)
    return out.round().astype(np.uint8)


@VISUALIZERS.register_module()
class HDRHandVisualizer(Pose3dLocalVisualizer):
    """mmpose's 3D pose visualizer drawing HDR's panel (see the module
    docstring).

    ``add_datasample`` draws :meth:`draw_panel` from the sample alone (the
    2D skeletons are its ``pred_instances.keypoints``; mmpose's
    ``det_data_sample`` is not needed), keeping joints whose score reaches
    ``kpt_thr`` and skipping a hand whose ``hand_type`` is 0.

    Args:
        *args, **kwargs: As ``Pose3dLocalVisualizer``.
    """

    def _hand_colors(self, hand: int, which: np.ndarray
                     ) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """Link and joint colours of one hand from the dataset meta."""
        links = None
        if self.link_color is not None and not isinstance(
                self.link_color, str):
            links = np.asarray(self.link_color, float)[which]
        joints = None
        if self.kpt_color is not None and not isinstance(
                self.kpt_color, str) and len(self.kpt_color) == 2 * \
                NUM_HAND_JOINTS:
            joints = np.asarray(self.kpt_color, float)[
                hand * NUM_HAND_JOINTS:(hand + 1) * NUM_HAND_JOINTS]
        return links, joints

    def _hand_joints(self, instances: InstanceData, hand: int,
                     kpt_thr: float) -> Tuple[np.ndarray, np.ndarray, bool]:
        """(21, 3) root-relative joints, (21,) drawn, and whether the hand
        was found (a 2D-only prediction has no 3D: nothing is drawn)."""
        joints = slice(hand * NUM_HAND_JOINTS, (hand + 1) * NUM_HAND_JOINTS)
        present = len(instances) > 0 and 'keypoints_3d' in instances and (
            'hand_type' not in instances
            or float(_numpy(instances.hand_type)[0, hand]) > 0)
        if not present:
            return (np.zeros((NUM_HAND_JOINTS, 3)),
                    np.zeros(NUM_HAND_JOINTS, bool), False)
        xyz = _numpy(instances.keypoints_3d)[0, joints]
        scores = (_numpy(instances.keypoint_scores)[0, joints]
                  if 'keypoint_scores' in instances else
                  np.ones(NUM_HAND_JOINTS))
        return xyz, scores >= kpt_thr, True

    def draw_hand_3d(self, ax, instances: InstanceData, hand: int,
                     kpt_thr: float = 0.0, elev: float = 15.,
                     azim: float = -115.) -> None:
        """One hand's 3D skeleton on ``ax``, the axes fitted to it."""
        links, which = hand_links(self.skeleton or [], hand)
        link_colors, joint_colors = self._hand_colors(hand, which)
        xyz, valid, present = self._hand_joints(instances, hand, kpt_thr)
        title = f'{HANDS[hand]} hand, 3D' + (
            '' if present else ' (not found)')
        draw_hand_3d(ax, xyz, valid, links, link_colors, joint_colors,
                     elev=elev, azim=azim, title=title)

    def draw_hands_in_camera(self, ax, instances: InstanceData,
                             kpt_thr: float = 0.0) -> None:
        """Both hands at their estimated places in the camera frame (each
        wrist at ``root_cam``), seen from behind the camera."""
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_zticks([])
        ax.set_title('both hands in the camera frame', fontsize=9)
        pts, valid, lines = [], [], []
        roots = (_numpy(instances.root_cam)[0] if len(instances) and
                 'root_cam' in instances else np.full((2, 3), np.nan))
        for hand in range(2):
            xyz, ok, present = self._hand_joints(instances, hand, kpt_thr)
            if not present or not np.isfinite(roots[hand]).all():
                continue
            links, which = hand_links(self.skeleton or [], hand)
            colors, _ = self._hand_colors(hand, which)
            base = len(pts) * NUM_HAND_JOINTS
            pts.append(xyz + roots[hand])
            valid.append(ok)
            lines += [(base + i, base + j,
                       None if colors is None else colors[k])
                      for k, (i, j) in enumerate(links)]
        if not pts:
            ax.text2D(0.5, 0.5, 'not placed', ha='center',
                      transform=ax.transAxes)
            return
        pts, valid = np.concatenate(pts), np.concatenate(valid)
        draw_hand_3d(ax, pts, valid,
                     np.asarray([(i, j) for i, j, _ in lines]).reshape(-1, 2),
                     None if any(c is None for *_, c in lines) else
                     np.asarray([c for *_, c in lines]),
                     elev=10., azim=-75.)
        ax.set_title('both hands in the camera frame', fontsize=9)

    def draw_panel(self,
                   image: np.ndarray,
                   sample: PoseDataSample,
                   kpt_thr: float = 0.0,
                   dpi: int = 100) -> np.ndarray:
        """The panel of one image (see the module docstring).

        Args:
            image: (H, W, 3) uint8 RGB input image.
            sample: ``HDRPoseEstimator`` output (``pred_instances`` with
                one instance, or none when no hand was found;
                ``hand_crops``, ``tdr_crops``, ``pred_fields.hand_masks``
                and metainfo ``mask_names``, ``input_center``,
                ``input_scale`` when present).
            kpt_thr: Joints scoring lower are not drawn.
            dpi: Resolution of the 13 x 6.5 inch panel.

        Returns:
            np.ndarray: (H', W', 3) uint8 RGB.
        """
        inst = sample.get('pred_instances', InstanceData())
        found = len(inst) > 0
        h, w = image.shape[:2]
        shown = image
        meta = sample.metainfo
        if 'pred_fields' in sample and 'hand_masks' in sample.pred_fields \
                and 'input_center' in meta:
            shown = masks_over_image(
                image, _numpy(sample.pred_fields.hand_masks),
                meta.get('mask_names', ()), meta['input_center'],
                float(np.asarray(meta['input_scale']).reshape(-1)[0]))
        # 2D skeletons sized for a ~500 px wide view of the image
        self.line_width = max(2, int(round(max(h, w) / 160)))
        self.radius = self.line_width + 1
        if found:
            shown, _ = self._draw_instances_kpts(shown.copy(), inst,
                                                 kpt_thr=kpt_thr)
            for box in _numpy(inst.get('hand_bboxes', np.zeros(
                    (1, 0, 4))))[0]:
                if (box[2:] > box[:2]).all():
                    self.set_image(shown)
                    self.draw_bboxes(box[None], edge_colors='yellow',
                                     line_widths=self.line_width)
                    shown = self.get_image()
        fig = Figure(figsize=(13, 6.5), dpi=dpi)
        grid = GridSpec(3, 5, figure=fig, width_ratios=[1.2, 1.2, 1, 1, 1],
                        left=0.01, right=0.99, bottom=0.01, top=0.94,
                        wspace=0.08, hspace=0.25)
        ax = fig.add_subplot(grid[:, :2])
        ax.imshow(shown)
        ax.axis('off')
        ax.set_title('HASM masks and 2D joints' if found else
                     'no hand found', fontsize=10)
        for row, hand in enumerate(HANDS):
            for col, key, title in ((2, 'hand_crops', 'crop'),
                                    (3, 'tdr_crops', 'after TDR')):
                ax = fig.add_subplot(grid[row, col])
                ax.axis('off')
                if key in sample:
                    crop = _numpy(sample.get(key))[row].astype(np.uint8)
                    ax.imshow(crop.transpose(1, 2, 0)[..., ::-1])
                mirrored = ' (mirrored)' if hand == 'left' else ''
                ax.set_title(f'{hand}{mirrored}: {title}', fontsize=9)
            self.draw_hand_3d(fig.add_subplot(grid[row, 4],
                                              projection='3d'),
                              inst, row, kpt_thr)
        self.draw_hands_in_camera(
            fig.add_subplot(grid[2, 2:], projection='3d'), inst, kpt_thr)
        return figure_to_rgb(fig)

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: PoseDataSample,
                       det_data_sample: Optional[PoseDataSample] = None,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       kpt_thr: float = 0.0,
                       step: int = 0,
                       **kwargs) -> np.ndarray:
        """Draw :meth:`draw_panel`, then show / save it as mmpose does.

        Args:
            name: Image identifier.
            image: (H, W, 3) uint8 RGB.
            data_sample: The HDR prediction.
            det_data_sample: Unused (the 2D skeletons are the sample's).
            show: Show it in a window.
            wait_time: Display time (s).
            out_file: Also write it there.
            kpt_thr: Joints scoring lower are not drawn.
            step: Backend step.
            **kwargs: mmpose's other drawing options, unused.

        Returns:
            np.ndarray: the RGB panel.
        """
        panel = self.draw_panel(image, data_sample, kpt_thr=kpt_thr)
        if show:
            self.show(panel, win_name=name, wait_time=wait_time)
        if out_file is not None:
            cv2.imwrite(out_file, panel[..., ::-1])
        else:
            self.add_image(name, panel, step)
        return panel
