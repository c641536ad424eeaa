"""Targets of the DetNet-style single-hand estimator (SHPE).

The SHPE predicts, per joint, a heat map, a delta map (unit direction of
the bone from the parent joint) and a location map (root-relative 3D
position divided by the wrist-to-middle-MCP length); docs/method.md
section 3. This codec turns annotated joints into those targets and
reads joints back from predicted maps.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.codecs.utils import get_heatmap_maximum
from mmpose.registry import KEYPOINT_CODECS

from hdr_mm.structures.hand_joints import (SHPE_MIDDLE_MCP, SHPE_PARENTS,
                                           SHPE_ROOT)


def gaussian_heatmaps(heatmap_size: Tuple[int, int], keypoints: np.ndarray,
                      keypoints_visible: np.ndarray,
                      sigma: float) -> Tuple[np.ndarray, np.ndarray]:
    """Unnormalised Gaussians (peak 1) at the nearest grid cell of each joint.

    mmpose's ``generate_gaussian_heatmaps`` is not used because it truncates
    a non-integer 3-sigma radius towards zero: with sigma 2.5 (the SHPE's
    value) a joint within 8 cells of the top/left border gets its peak one
    cell off. Here the Gaussian is evaluated on the whole grid and cut at
    3 sigma, with the same centre rounding (``floor(x + 0.5)``).

    Args:
        heatmap_size: (W, H) of the grid.
        keypoints: (K, 2) joints in heat map cells (x, y).
        keypoints_visible: (K,) 1 for annotated joints.
        sigma: Standard deviation in cells.

    Returns:
        tuple:
        - heatmaps (np.ndarray): (K, H, W) float32
        - weights (np.ndarray): (K,) float32, 0 for joints not annotated or
          whose Gaussian lies outside the grid
    """
    W, H = heatmap_size
    keypoints = np.asarray(keypoints, dtype=np.float32)
    weights = (np.asarray(keypoints_visible, dtype=np.float32) > 0.5).astype(
        np.float32)
    radius = 3 * sigma
    # all joints at once: (K, 1, 1) centres against the (1, 1, W) and
    # (1, H, 1) cell coordinates
    finite = np.isfinite(keypoints).all(axis=1)
    mu = np.floor(np.where(finite[:, None], keypoints, 0) + 0.5)
    inside = ((mu[:, 0] + radius >= 0) & (mu[:, 1] + radius >= 0)
              & (mu[:, 0] - radius <= W - 1) & (mu[:, 1] - radius <= H - 1))
    weights[~(finite & inside)] = 0
    xs = np.arange(W, dtype=np.float32)[None, None, :]
    ys = np.arange(H, dtype=np.float32)[None, :, None]
    d2 = (xs - mu[:, 0, None, None])**2 + (ys - mu[:, 1, None, None])**2
    heatmaps = np.exp(-d2 / (2 * sigma**2))
    heatmaps[(d2 > radius**2) | (weights[:, None, None] == 0)] = 0
    return heatmaps, weights


@KEYPOINT_CODECS.register_module()
class DetNetHandCodec(BaseKeypointCodec):
    """Heat map, delta map and location map targets of one right hand.

    Joints are in SHPE order (wrist, then thumb..pinky base to tip; see
    :mod:`hdr_mm.structures.hand_joints`). Delta and location maps are
    constant over the image for one joint (the loss weights them by the
    ground-truth heat map), so the codec stores them as one 3-vector per
    joint; :meth:`dense_maps` expands them.

    Encoded items (N instances, K joints; N is 1 in top-down use):

    - ``heatmaps`` (K, H, W): Gaussian of std ``sigma`` cells at each joint
      on the (W, H) = ``heatmap_size`` grid
    - ``keypoint_weights`` (N, K): 1 where the heat map is supervised
      (annotated and inside the crop)
    - ``delta_targets`` (N, K, 3): unit vector from the parent joint to the
      joint (0 for the wrist)
    - ``delta_weights`` (N, K): 1 where joint and parent are annotated,
      the bone is not degenerate and the joint is inside the crop
    - ``location_targets`` (N, K, 3): (joint - wrist) / ||middle MCP -
      wrist||, i.e. root-relative and scale-normalised
    - ``location_weights`` (N, K): 1 where the joint, the wrist and the
      middle MCP are annotated and the joint is inside the crop
    - ``ref_bone_length`` (N,): ||middle MCP - wrist|| in the unit of
      ``keypoints_3d`` (mm), 0 when unknown

    Args:
        input_size: (W, H) of the network input, e.g. (256, 256).
        heatmap_size: (W, H) of the predicted maps, e.g. (64, 64). The
            input must be an integer multiple of it, the same on both axes.
        sigma: Gaussian std in heat map cells (2.5 for SHPE).
        parents: Parent of each joint (-1 for the root).
        root_index: Index of the wrist.
        ref_index: Index of the middle finger's MCP joint.
        require_3d: Raise when ``encode`` gets no 3D joints (in a pipeline:
            ``MirrorHandCrop`` is missing). False allows 2D-only targets.
        heatmap_type: What the predicted heat maps are, for ``decode``:
            ``'gaussian'`` (DetNet's sigmoid maps; the joint is the arg-max
            cell, its score the maximum) or ``'softmax'`` (one
            distribution per joint, ``DetNetHead(heatmap_activation=
            'softmax')``; the joint is the probability-weighted mean of the
            5 x 5 cells around the arg-max, its score their mass in
            [0, 1]). The targets are the same Gaussians for both.
        readout: Where the 3D joint and the bone direction are read from
            their maps: ``'argmax'`` (DetNet: at the arg-max cell) or
            ``'expectation'`` (the mean over all cells weighted by the heat
            map normalised to sum 1).
    """

    auxiliary_encode_keys = {'keypoints_3d'}

    field_mapping_table = dict(heatmaps='heatmaps')
    # replaces PackPoseInputs' default table, so it repeats its entries
    instance_mapping_table = dict(
        bbox='bboxes',
        bbox_score='bbox_scores',
        bbox_scale='bbox_scales',
        keypoints='keypoints',
        keypoints_cam='keypoints_cam',
        keypoints_visible='keypoints_visible',
    )
    label_mapping_table = dict(
        keypoint_weights='keypoint_weights',
        delta_targets='delta_targets',
        delta_weights='delta_weights',
        location_targets='location_targets',
        location_weights='location_weights',
        ref_bone_length='ref_bone_length',
    )

    def __init__(self,
                 input_size: Tuple[int, int] = (256, 256),
                 heatmap_size: Tuple[int, int] = (64, 64),
                 sigma: float = 2.5,
                 parents: Sequence[int] = tuple(SHPE_PARENTS.tolist()),
                 root_index: int = SHPE_ROOT,
                 ref_index: int = SHPE_MIDDLE_MCP,
                 require_3d: bool = True,
                 heatmap_type: str = 'gaussian',
                 readout: str = 'argmax') -> None:
        super().__init__()
        if heatmap_type not in ('gaussian', 'softmax'):
            raise ValueError("DetNetHandCodec: heatmap_type must be "
                             f"'gaussian' or 'softmax', got {heatmap_type!r}")
        if readout not in ('argmax', 'expectation'):
            raise ValueError("DetNetHandCodec: readout must be 'argmax' or "
                             f"'expectation', got {readout!r}")
        self.heatmap_type = heatmap_type
        self.readout = readout
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        sx = self.input_size[0] / self.heatmap_size[0]
        sy = self.input_size[1] / self.heatmap_size[1]
        if sx != sy or sx != int(sx) or sx < 1:
            raise ValueError(
                f'DetNetHandCodec: input_size {self.input_size} must be the '
                f'same integer multiple of heatmap_size {self.heatmap_size} '
                'on both axes (the SHPE trunk has stride 4: 256 -> 64)')
        self.stride = int(sx)
        self.sigma = float(sigma)
        self.parents = np.asarray(parents, dtype=np.int64)
        self.num_keypoints = len(self.parents)
        self.root_index = int(root_index)
        self.ref_index = int(ref_index)
        self.require_3d = require_3d

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               keypoints_3d: Optional[np.ndarray] = None) -> dict:
        """Encode joints into SHPE targets.

        Args:
            keypoints: (N, K, 2) joints in input-image pixels (the crop).
            keypoints_visible: (N, K) annotation validity (default all 1).
            keypoints_3d: (N, K, 3) 3D joints (mm, any origin) in the frame
                of the (mirrored, right-hand) crop. ``None`` gives zero 3D
                weights (2D-only supervision) if ``require_3d`` is False.

        Returns:
            dict: the items listed in the class docstring.
        """
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.ndim != 3 or keypoints.shape[1] != self.num_keypoints:
            raise ValueError(
                f'DetNetHandCodec.encode: keypoints must be (N, '
                f'{self.num_keypoints}, 2+), got {keypoints.shape}')
        N, K = keypoints.shape[:2]
        if keypoints_visible is None:
            keypoints_visible = np.ones((N, K), dtype=np.float32)
        vis = np.asarray(keypoints_visible, dtype=np.float32).reshape(N, K)
        if keypoints_3d is None and self.require_3d:
            raise ValueError(
                'DetNetHandCodec.encode: no 3D joints (keypoints_3d); in a '
                'pipeline, put MirrorHandCrop between TopdownAffine and '
                'GenerateTarget, or set require_3d=False for 2D-only targets')
        if keypoints_3d is not None:
            keypoints_3d = np.asarray(keypoints_3d, dtype=np.float32)
            if keypoints_3d.shape != (N, K, 3):
                raise ValueError(
                    'DetNetHandCodec.encode: keypoints_3d must be '
                    f'{(N, K, 3)}, got {keypoints_3d.shape}')

        heatmaps = np.zeros((K, ) + self.heatmap_size[::-1], np.float32)
        kw = np.zeros((N, K), np.float32)
        d_t = np.zeros((N, K, 3), np.float32)
        d_w = np.zeros((N, K), np.float32)
        l_t = np.zeros((N, K, 3), np.float32)
        l_w = np.zeros((N, K), np.float32)
        ref = np.zeros((N, ), np.float32)
        for n in range(N):
            hm, kw[n] = gaussian_heatmaps(self.heatmap_size,
                                          keypoints[n, :, :2] / self.stride,
                                          vis[n], self.sigma)
            heatmaps = np.maximum(heatmaps, hm)
            if keypoints_3d is None:
                continue
            cam, valid = keypoints_3d[n], (vis[n] > 0.5) & (kw[n] > 0)
            # unit bone directions
            child = np.nonzero(self.parents >= 0)[0]
            bones = cam[child] - cam[self.parents[child]]
            length = np.linalg.norm(bones, axis=-1)
            ok = (length > 1e-6) & valid[child] & (vis[n][self.parents[child]]
                                                   > 0.5)
            d_t[n, child[ok]] = bones[ok] / length[ok, None]
            d_w[n, child[ok]] = 1
            # root-relative, scale-normalised locations
            r, m = self.root_index, self.ref_index
            bone = float(np.linalg.norm(cam[m] - cam[r]))
            if vis[n, r] > 0.5 and vis[n, m] > 0.5 and bone > 1e-6:
                ref[n] = bone
                l_t[n] = (cam - cam[r]) / bone
                l_w[n] = valid.astype(np.float32)
        return dict(
            heatmaps=heatmaps,
            keypoint_weights=kw,
            delta_targets=d_t,
            delta_weights=d_w,
            location_targets=l_t,
            location_weights=l_w,
            ref_bone_length=ref)

    def dense_maps(self, vectors: np.ndarray) -> np.ndarray:
        """Expand per-joint 3-vectors into constant maps.

        Args:
            vectors: (K, 3).

        Returns:
            np.ndarray: (K, 3, H, W).
        """
        W, H = self.heatmap_size
        return np.broadcast_to(vectors[:, :, None, None],
                               vectors.shape + (H, W)).copy()

    def decode(
        self, encoded: Tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Read joints from one hand's predicted maps.

        The 2D joint is the arg-max cell of its heat map (returned as (x, y)
        input pixels, whereas the authors' network gives (row, column)
        cells); the delta and location vectors are read at that cell.

        Args:
            encoded: ``(heatmaps, delta_maps, location_maps)`` of shapes
                (K, H, W), (K, 3, H, W), (K, 3, H, W).

        Returns:
            tuple:
            - keypoints (np.ndarray): (1, K, 2) input-image pixels
            - scores (np.ndarray): (1, K) heat map maxima
            - keypoints_3d (np.ndarray): (1, K, 3) root-relative joints in
              units of the wrist-to-middle-MCP length
            - deltas (np.ndarray): (1, K, 3) bone directions
        """
        heatmaps, delta_maps, location_maps = encoded
        K, H, W = heatmaps.shape
        if (W, H) != self.heatmap_size or delta_maps.shape != (
                K, 3, H, W) or location_maps.shape != (K, 3, H, W):
            raise ValueError(
                'DetNetHandCodec.decode: expected maps (K, H, W), (K, 3, H, '
                f'W), (K, 3, H, W) with (W, H) = {self.heatmap_size}, got '
                f'{heatmaps.shape}, {delta_maps.shape}, '
                f'{location_maps.shape}')
        locs, scores = get_heatmap_maximum(heatmaps)
        cells = np.clip(locs, 0, None).astype(np.int64)  # -1 if all <= 0
        idx = np.arange(K)
        if self.heatmap_type == 'softmax':
            locs, scores = local_mean(heatmaps, cells)
        if self.readout == 'argmax':
            xyz = location_maps[idx, :, cells[:, 1], cells[:, 0]]
            delta = delta_maps[idx, :, cells[:, 1], cells[:, 0]]
        else:
            w = np.clip(heatmaps, 0, None).reshape(K, 1, H * W)
            w = w / np.maximum(w.sum(-1, keepdims=True), 1e-12)
            xyz = (w * location_maps.reshape(K, 3, H * W)).sum(-1)
            delta = (w * delta_maps.reshape(K, 3, H * W)).sum(-1)
        keypoints = np.where(locs >= 0, locs * self.stride, -1.0)
        return (keypoints[None].astype(np.float32), scores[None],
                xyz[None].astype(np.float32), delta[None].astype(np.float32))


def local_mean(heatmaps: np.ndarray,
               cells: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Sub-cell joints from probability maps: the mean cell position in the
    5 x 5 window around each arg-max, weighted by the probabilities.

    The window keeps a second mode elsewhere on the map from pulling the
    joint (as a mean over the whole map would); 5 x 5 rather than 3 x 3
    because the smaller window truncates a distribution that lies between
    two cells on one side only and pulls it towards the arg-max cell.

    Args:
        heatmaps: (K, H, W) non-negative maps, each summing to about 1.
        cells: (K, 2) integer arg-max cells (x, y).

    Returns:
        tuple:
        - locs (np.ndarray): (K, 2) float cells (x, y)
        - mass (np.ndarray): (K,) the window's probability mass
    """
    K = heatmaps.shape[0]
    cells = np.asarray(cells, dtype=np.int64).reshape(K, 2)
    # each joint's 5 x 5 window, zero outside the map (no mass there)
    padded = np.pad(np.clip(heatmaps, 0, None).astype(np.float64),
                    ((0, 0), (2, 2), (2, 2)))
    offsets = np.arange(-2, 3)
    gx = cells[:, 0, None] + offsets  # (K, 5)
    gy = cells[:, 1, None] + offsets
    win = padded[np.arange(K)[:, None, None], gy[:, :, None] + 2,
                 gx[:, None, :] + 2]  # (K, 5, 5)
    mass = win.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1.0)
    locs = np.stack([(win.sum(axis=1) * gx).sum(axis=1) / safe,
                     (win.sum(axis=2) * gy).sum(axis=1) / safe], axis=1)
    locs = np.where(mass[:, None] > 0, locs, cells)
    return locs.astype(np.float32), mass.astype(np.float32)
