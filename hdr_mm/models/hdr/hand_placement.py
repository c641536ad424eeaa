"""A frame's two hands placed in one camera frame: the pipeline's result.

SHPE gives each hand crop its joints in image pixels and, for a 3D SHPE,
relative to its own wrist (mm). Each hand's wrist is then placed in the
camera frame from its 2D and root-relative 3D joints
(:func:`~hdr_mm.structures.solve_root_translation`, with the frame's
camera), which gives the right-to-left root offset. Given the depth gap
of two interacting hands (the palm centre of the one behind, from HASM's
masks, that far further away than the other's), both are placed together
instead (:func:`~hdr_mm.structures.solve_two_roots`). The two hands become
one 42-joint instance in InterHand2.6M order, right hand first (the
layout of mmpose's ``InterHand3DDataset`` and ``Hand3DInferencer``).

Batches are in the rows of :mod:`hdr_mm.structures.hand_crops`.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample
from torch import Tensor

from hdr_mm.structures import (INTERHAND_MIDDLE_MCP, INTERHAND_ROOT,
                               NUM_HAND_JOINTS, SHPE_TO_INTERHAND,
                               default_camera, palm_centre,
                               solve_root_translation, solve_two_roots)
from hdr_mm.structures.hand_crops import frame_rows


def frame_camera(metainfo: dict) -> Tuple[np.ndarray, np.ndarray]:
    """The frame's camera: its ``focal`` / ``principal_pt`` metainfo, or
    :func:`~hdr_mm.structures.default_camera` of its ``frame_shape``
    (else ``ori_shape``).

    Args:
        metainfo: A data sample's metainfo.

    Returns:
        tuple: focal (2,) and principal point (2,), pixels, float32.
    """
    if metainfo.get('focal') is not None and \
            metainfo.get('principal_pt') is not None:
        return (np.asarray(metainfo['focal'], np.float32).reshape(2),
                np.asarray(metainfo['principal_pt'],
                           np.float32).reshape(2))
    shape = metainfo.get('frame_shape', metainfo.get('ori_shape'))
    return default_camera(shape)


def reference_bone_lengths(
        data_samples: Sequence[PoseDataSample]) -> np.ndarray:
    """Each hand's ground-truth wrist-to-middle-MCP length, the scale of
    the paper's protocol.

    Args:
        data_samples: N frames, optionally with ``gt_instances.
            keypoints_cam`` (1, 42, 3) in InterHand2.6M order (mm) and
            ``keypoints_visible``.

    Returns:
        np.ndarray: (2N,) float32 lengths (mm), rows right hands then left
        hands; 0 where a frame has no ground truth or the hand's wrist or
        middle MCP is not annotated.
    """
    n = len(data_samples)
    bones = np.zeros(2 * n, np.float32)
    for i, s in enumerate(data_samples):
        gt = s.get('gt_instances', None)
        if gt is None or 'keypoints_cam' not in gt:
            continue
        kpts = np.asarray(gt.keypoints_cam).reshape(-1, 3)
        vis = np.asarray(gt.get('keypoints_visible',
                                np.ones((1, len(kpts))))).reshape(-1)
        for h, row in enumerate(frame_rows(i, n)):
            root = h * NUM_HAND_JOINTS + INTERHAND_ROOT
            mcp = h * NUM_HAND_JOINTS + INTERHAND_MIDDLE_MCP
            if vis[root] > 0 and vis[mcp] > 0:
                bones[row] = float(np.linalg.norm(kpts[root] - kpts[mcp]))
    return bones


def place_hands(preds: Sequence[InstanceData], present: Tensor,
                boxes: Tensor,
                data_samples: Sequence[PoseDataSample],
                depth_gaps: Optional[np.ndarray] = None
                ) -> List[InstanceData]:
    """The 42-joint prediction of every frame from its two hand crops.

    Args:
        preds: 2N SHPE results (``keypoints`` (1, 21, 2) image pixels,
            ``keypoint_scores`` (1, 21), optionally ``keypoints_3d``
            (1, 21, 3) root-relative mm; SHPE joint order).
        present: (2N,) bool, the hand was found.
        boxes: (2N, 4) each hand's amodal box in image pixels (zeros when
            not found).
        data_samples: The N frames (their camera, :func:`frame_camera`).
        depth_gaps: (N,) each frame's left-minus-right palm-centre
            depth (mm) for :func:`place_two_hands`; None, or NaN in a frame, places
            the hands independently.

    Returns:
        list[InstanceData]: per frame, the fields listed in
        :func:`place_two_hands`.
    """
    n = len(data_samples)
    present = present.cpu().numpy()
    boxes = boxes.cpu().numpy().astype(np.float32)
    out = []
    for i, sample in enumerate(data_samples):
        rows = frame_rows(i, n)
        gap = None if depth_gaps is None else float(depth_gaps[i])
        out.append(place_two_hands([preds[r] for r in rows], present[rows],
                                   boxes[rows],
                                   *frame_camera(sample.metainfo),
                                   depth_gap=gap))
    return out


def place_two_hands(preds: Sequence[InstanceData], present: np.ndarray,
                    boxes: np.ndarray, focal: np.ndarray,
                    principal_pt: np.ndarray,
                    depth_gap: Optional[float] = None) -> InstanceData:
    """One frame's two hands as one instance, placed in the camera frame.

    Args:
        preds: The right and the left hand's SHPE results (see
            :func:`place_hands`).
        present: (2,) bool, right/left found.
        boxes: (2, 4) float32 amodal boxes (image pixels).
        focal: (2,) the camera's focal lengths (pixels).
        principal_pt: (2,) its principal point (pixels).
        depth_gap: The left palm centre's depth minus the right one's
            (mm; :func:`~hdr_mm.structures.palm_centre`): with both hands
            found and 3D joints, they are placed together, their wrists
            that gap apart in depth plus the difference of their palm
            centres' depths relative to their wrists in the predicted 3D
            joints (:func:`~hdr_mm.structures.solve_two_roots`); None or
            NaN: each on its own.

    Returns:
        InstanceData: one instance, joints in InterHand2.6M order, right
        hand first: ``keypoints`` (1, 42, 3) ``u, v`` pixels and the
        depth relative to the hand's wrist (mm), or (1, 42, 2) with a 2D
        SHPE; ``keypoints_3d`` (1, 42, 3) root-relative mm (3D only);
        ``keypoint_scores`` (1, 42), 0 for a hand not found;
        ``hand_type`` (1, 2); ``hand_bboxes`` (1, 2, 4); ``bboxes``
        (1, 4) their union; ``root_cam`` (1, 2, 3) each wrist in the
        camera frame (mm, NaN unless placed); ``rel_root_3d`` (1, 3) and
        ``rel_root_depth`` (1,): left wrist minus right wrist, 0 unless
        both hands were placed.
    """
    has_3d = 'keypoints_3d' in preds[0]
    k = NUM_HAND_JOINTS
    uv = np.zeros((2 * k, 2), np.float32)
    xyz = np.zeros((2 * k, 3), np.float32)
    scores = np.zeros(2 * k, np.float32)
    roots = np.full((2, 3), np.nan, np.float32)
    together = has_3d and present.all() and depth_gap is not None \
        and np.isfinite(depth_gap)
    for h, pred in enumerate(preds):
        joints = slice(h * k, (h + 1) * k)
        uv[joints] = np.asarray(pred.keypoints)[0][SHPE_TO_INTERHAND, :2]
        scores[joints] = np.asarray(
            pred.keypoint_scores)[0][SHPE_TO_INTERHAND] * present[h]
        if has_3d:
            xyz[joints] = np.asarray(pred.keypoints_3d)[0][SHPE_TO_INTERHAND]
            if present[h] and not together:
                roots[h] = solve_root_translation(
                    uv[joints], xyz[joints], focal, principal_pt,
                    np.maximum(scores[joints], 1e-3))
    if together:
        hands = (slice(0, k), slice(k, 2 * k))
        # palm centres depth_gap apart: the wrists, relative to which the
        # joints are, that much plus the offsets of the palm centres
        centre_z = [palm_centre(xyz[j])[2] for j in hands]
        roots = solve_two_roots([uv[j] for j in hands],
                                [xyz[j] for j in hands], focal,
                                principal_pt,
                                depth_gap + centre_z[0] - centre_z[1],
                                [np.maximum(scores[j], 1e-3) for j in hands])
    rel = roots[1] - roots[0]
    rel = rel if np.isfinite(rel).all() else np.zeros(3, np.float32)
    found = boxes[present]
    union = np.concatenate([found[:, :2].min(0), found[:, 2:].max(0)]) \
        if len(found) else np.zeros(4, np.float32)
    inst = InstanceData(
        keypoint_scores=scores[None],
        hand_type=present.astype(np.float32)[None],
        hand_bboxes=boxes[None],
        bboxes=union[None].astype(np.float32),
        root_cam=roots[None],
        rel_root_3d=rel[None].astype(np.float32),
        rel_root_depth=np.array([rel[2]], np.float32))
    if has_3d:
        inst.keypoints = np.concatenate([uv, xyz[:, 2:]], 1)[None]
        inst.keypoints_3d = xyz[None]
    else:
        inst.keypoints = uv[None]
    return inst
