"""The box around both hands of an image, from what the user gives."""
from typing import Any, Optional, Tuple

import numpy as np

from hdr_mm.structures import bbox_of_points, clip_bbox, union_bbox
from .hand_detection import DetectedHands


def two_hand_box(image_shape: Tuple[int, int],
                 name: str,
                 bboxes: Optional[Any] = None,
                 keypoints_2d: Optional[Any] = None,
                 detected: Optional[DetectedHands] = None
                 ) -> Tuple[np.ndarray, str]:
    """The two-hand box of one image, first found of: the user's boxes,
    the box of the user's 2D joints, the detected hands, the whole image.

    Args:
        image_shape: (H, W) of the image.
        name: The image's name for messages.
        bboxes: (4,) a two-hand box, or (N, 4) / (N, 5) hand boxes whose
            union is used; None or empty: not given.
        keypoints_2d: (K, 2) joints, or (K, 3) with a third column > 0 for
            the valid ones; None or empty: not given.
        detected: The hands a detector found (:func:`select_hands`), or
            None.

    Returns:
        tuple: (4,) float32 ``x1, y1, x2, y2`` clipped to the image (the
        whole image is ``[-0.5, -0.5, W - 0.5, H - 0.5]``: the extent of
        its pixels) and its source (``'bboxes'``, ``'keypoints_2d'``,
        ``'detector'`` or ``'image'``).

    Raises:
        ValueError: wrong shapes, no valid joint, a box that is not
            finite, inverted, or outside the image (naming the image).
    """
    h, w = image_shape[:2]
    box, source = None, 'image'
    if bboxes is not None and np.size(bboxes):
        arr = np.asarray(bboxes, np.float32)
        if arr.ndim > 2 or arr.shape[-1] not in (4, 5):
            raise ValueError(f'{name}: bboxes must be (4,) or (N, 4) / '
                             f'(N, 5), got shape {arr.shape}')
        box, source = union_bbox(arr.reshape(-1, arr.shape[-1])), 'bboxes'
    elif keypoints_2d is not None and np.size(keypoints_2d):
        kpts = np.asarray(keypoints_2d, np.float32)
        kpts = kpts.reshape(-1, kpts.shape[-1])
        if kpts.shape[1] not in (2, 3):
            raise ValueError(f'{name}: keypoints_2d must be (K, 2) or '
                             f'(K, 3), got shape {kpts.shape}')
        box = bbox_of_points(kpts,
                             kpts[:, 2] if kpts.shape[1] == 3 else None)
        if box is None:
            raise ValueError(f'{name}: no valid joint in keypoints_2d')
        source = 'keypoints_2d'
    elif detected is not None and not detected.is_empty:
        box, source = detected.union_box, 'detector'
    if box is None:
        return np.array([-0.5, -0.5, w - 0.5, h - 0.5], np.float32), source
    if not np.isfinite(box).all() or (box[2:] < box[:2]).any():
        raise ValueError(f'{name}: hand box {box.tolist()} is not finite '
                         'or inverted (x1 <= x2, y1 <= y2)')
    clipped = clip_bbox(box, w, h)
    if (clipped[2:] - clipped[:2] <= 0).any() and \
            (box[2:] - box[:2] > 0).all():
        raise ValueError(f'{name}: hand box {box.tolist()} lies outside '
                         f'the {w}x{h} image')
    return clipped, source
