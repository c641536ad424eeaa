"""Drawing HDR's two-hand results: 2D skeletons on the image, one 3D
skeleton per hand.

mmpose's ``Pose3dLocalVisualizer`` draws the 2D part well and is reused
as it is. Its 3D part is replaced here, for two reasons:

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

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mmengine.structures import InstanceData
from mmpose.registry import VISUALIZERS
from mmpose.structures import PoseDataSample
from mmpose.visualization import Pose3dLocalVisualizer

from hdr_mm.structures import NUM_HAND_JOINTS

#: hand order of the 42-joint layout (InterHand2.6M: right first)
HAND_NAMES = ('right', 'left')
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
                 min_extent: float = 200.,
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
        min_extent: Smallest side of the plotted cube (mm), so a small or
            degenerate hand is not blown up.
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
                    color=np.asarray(color, float) / 255., linewidth=2)
    colors = np.tile(grey, (len(pts), 1)) if joint_colors is None else \
        np.asarray(joint_colors, float)
    ax.scatter(pts[valid, 0], pts[valid, 1], pts[valid, 2],
               c=colors[valid] / 255., s=8, depthshade=False)


@VISUALIZERS.register_module()
class HDRHandVisualizer(Pose3dLocalVisualizer):
    """mmpose's 3D pose visualizer with one 3D axis per hand.

    ``add_datasample`` is mmpose's: the image with the 2D skeletons of
    ``det_data_sample`` on the left, the 3D view on the right. The 3D view
    shows the right hand above the left one, each from the sample's
    ``pred_instances.keypoints_3d`` (1, 42, 3) (root-relative mm, camera
    frame), keeping joints whose ``keypoint_scores`` reach ``kpt_thr`` and
    skipping a hand whose ``hand_type`` is 0.

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

    def draw_hands_3d(self,
                      fig: Figure,
                      instances: InstanceData,
                      subplot_specs: Sequence,
                      kpt_thr: float = 0.3,
                      axis_limit: float = 200.,
                      axis_elev: float = 15.,
                      axis_azimuth: float = -115.) -> None:
        """Draw each hand's 3D skeleton on its own axis of ``fig``.

        Args:
            fig: The figure.
            instances: ``pred_instances`` of an HDR sample (at most one
                instance is drawn: HDR gives one per image); empty draws
                two empty axes.
            subplot_specs: Two ``add_subplot`` positions (right, left),
                e.g. ``[(2, 1, 1), (2, 1, 2)]`` or two ``SubplotSpec``.
            kpt_thr: Joints with a lower score are not drawn.
            axis_limit: Smallest cube side shown (mm).
            axis_elev: View elevation (degrees).
            axis_azimuth: View azimuth (degrees).
        """
        skeleton = self.skeleton if self.skeleton is not None else []
        has = 'keypoints_3d' in instances and len(instances) > 0
        for hand, spec in enumerate(subplot_specs):
            spec = spec if isinstance(spec, tuple) else (spec, )
            ax = fig.add_subplot(*spec, projection='3d')
            links, which = hand_links(skeleton, hand)
            link_colors, joint_colors = self._hand_colors(hand, which)
            joints = slice(hand * NUM_HAND_JOINTS,
                           (hand + 1) * NUM_HAND_JOINTS)
            present = has and (
                'hand_type' not in instances
                or float(np.asarray(instances.hand_type)[0, hand]) > 0)
            if present:
                xyz = np.asarray(instances.keypoints_3d)[0, joints]
                if 'keypoint_scores' in instances:
                    scores = np.asarray(instances.keypoint_scores)[0, joints]
                else:
                    scores = np.ones(NUM_HAND_JOINTS)
                valid = scores >= kpt_thr
            else:
                xyz = np.zeros((NUM_HAND_JOINTS, 3))
                valid = np.zeros(NUM_HAND_JOINTS, bool)
            title = f'{HAND_NAMES[hand]} hand' + (
                '' if present else ' (not found)')
            draw_hand_3d(ax, xyz, valid, links, link_colors, joint_colors,
                         min_extent=axis_limit, elev=axis_elev,
                         azim=axis_azimuth, title=title)

    def _draw_3d_data_samples(self,
                              image: np.ndarray,
                              pose_samples: PoseDataSample,
                              draw_gt: bool = True,
                              kpt_thr: float = 0.3,
                              num_instances: int = -1,
                              axis_azimuth: float = -115,
                              axis_limit: float = 200.,
                              axis_dist: float = 10.0,
                              axis_elev: float = 15.0,
                              show_kpt_idx: bool = False,
                              scores_2d: Optional[np.ndarray] = None
                              ) -> np.ndarray:
        """The 3D view: right hand above left hand, a square as high as
        the image's longer side (``add_datasample`` pads the 2D image to
        it).

        Args:
            image: (H, W, 3) the input image (only its size is used).
            pose_samples: Sample with ``pred_instances.keypoints_3d``.
            draw_gt: Unused: HDR inference has no 3D ground truth.
            kpt_thr: Joints scoring lower are not drawn.
            num_instances: Unused (one instance per image).
            axis_azimuth: View azimuth (degrees).
            axis_limit: Smallest cube side shown (mm).
            axis_dist: Unused (matplotlib >= 3.6 has no axis distance).
            axis_elev: View elevation (degrees).
            show_kpt_idx: Unused.
            scores_2d: Unused (the 3D scores are the 2D ones).

        Returns:
            np.ndarray: (S, S, 3) uint8 RGB, S = max(H, W).
        """
        side = max(image.shape[:2])
        fig = Figure(figsize=(side / 100., side / 100.), dpi=100)
        instances = pose_samples.get('pred_instances', InstanceData())
        self.draw_hands_3d(fig, instances, [(2, 1, 1), (2, 1, 2)],
                           kpt_thr=kpt_thr, axis_limit=axis_limit,
                           axis_elev=axis_elev, axis_azimuth=axis_azimuth)
        fig.subplots_adjust(left=0, right=1, bottom=0.01, top=0.9,
                            hspace=0.15)
        img = figure_to_rgb(fig)
        if img.shape[:2] != (side, side):  # rounding of the figure size
            canvas = np.full((side, side, 3), 255, np.uint8)
            h, w = min(side, img.shape[0]), min(side, img.shape[1])
            canvas[:h, :w] = img[:h, :w]
            img = canvas
        return img

    def draw_hands_2d(self,
                      image: np.ndarray,
                      instances: InstanceData,
                      kpt_thr: float = 0.3,
                      draw_bbox: bool = False) -> np.ndarray:
        """The image with the 2D skeletons of both hands (mmpose drawing).

        Args:
            image: (H, W, 3) uint8 RGB.
            instances: With ``keypoints`` (N, 42, >=2) in image pixels,
                ``keypoint_scores`` (N, 42) and optionally ``bboxes``.
            kpt_thr: Joints scoring lower are not drawn.
            draw_bbox: Also draw ``bboxes``.

        Returns:
            np.ndarray: (H, W, 3) uint8 RGB.
        """
        out, _ = self._draw_instances_kpts(
            image.copy(), instances, kpt_thr=kpt_thr)
        if draw_bbox and 'bboxes' in instances:
            out = self._draw_instances_bbox(out, instances)
        return out
