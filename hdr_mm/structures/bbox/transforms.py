"""Box and crop geometry of HDR, on numpy arrays (one sample at a time).

Every crop in hdr_mm -- the two-hand crop that HASM sees, each hand's
crop for TDR and SHPE, the generator's per-hand renders -- is a square
around a box, enlarged by a padding factor and warped to ``out_size``.
This module is their single definition; :mod:`.batched_transforms` is its
batched torch twin for the model, with the same conventions:

- **Pixels.** Pixel ``i`` is centred at coordinate ``i`` (OpenCV and
  mmpose's ``get_warp_matrix``). The box of a mask whose foreground spans
  columns ``a..b`` is ``[a - 0.5, b + 0.5]``: its exact extent, so that
  its centre is ``(a + b) / 2`` (on the same mask the authors' demo
  takes the same centre and a side one pixel shorter, ``b - a``;
  docs/method.md section 6).
- **Crops.** A crop of centre ``c`` and side ``s`` maps ``c`` to
  ``out_size / 2`` with the scale ``out_size / s``: mmpose's
  ``get_warp_matrix`` without rotation, so mmpose's top-down mapping back
  to the image (``kpt / input_size * input_scale + input_center - 0.5 *
  input_scale``) inverts it exactly.
- **Mirroring** (left hands are mirrored to look right): ``x -> W - 1 -
  x`` in an image ``W`` pixels wide, i.e. the image flipped left-right
  as an array (``cv2.flip``, mmpose's ``flip_keypoints``). It is
  :func:`mirror_x` on points and :func:`mirror_x_matrix` as an affine
  matrix (a mirrored crop is the warp followed by it, ``W = out_size``).
- **Borders.** Whatever a crop takes from outside the image is 0, as if
  the image had been zero-padded first (the authors pad by half the
  image size on each side, which gives the same pixels).
"""
from typing import Optional, Sequence, Tuple, TypeVar, Union

import cv2
import numpy as np
import torch
from mmpose.structures.bbox import (bbox_overlaps, bbox_xyxy2cs,
                                    get_warp_matrix)

#: cv2 flags of the two kinds of content a crop carries
INTERPOLATION = {'bilinear': cv2.INTER_LINEAR, 'nearest': cv2.INTER_NEAREST}

PointsT = TypeVar('PointsT', np.ndarray, torch.Tensor)


def mirror_x(points: PointsT, width: float) -> PointsT:
    """Mirror points left-right in an image ``width`` pixels wide.

    ``x -> width - 1 - x`` (pixel centres at integers): where a point
    lands when the image is flipped as an array, as mmpose's
    ``flip_keypoints`` (horizontal) without its exchange of symmetric
    joints, which a single hand does not have.

    Args:
        points: (..., D) numpy array or tensor, D >= 1; the first column
            is ``x``, the others are kept.
        width: Image width in pixels.

    Returns:
        np.ndarray or Tensor: a mirrored copy, same type, shape and
        dtype.
    """
    out = points.clone() if isinstance(points, torch.Tensor) else np.array(
        points, copy=True)
    out[..., 0] = width - 1 - out[..., 0]
    return out


def mirror_x_matrix(width: float) -> np.ndarray:
    """:func:`mirror_x` as an affine matrix.

    Args:
        width: Image width in pixels.

    Returns:
        np.ndarray: (2, 3) float64 ``[[-1, 0, width - 1], [0, 1, 0]]``.
    """
    return np.array([[-1., 0., width - 1.], [0., 1., 0.]])


def bbox_of_mask(mask: np.ndarray) -> Optional[np.ndarray]:
    """Exact extent of a binary mask.

    Args:
        mask: (H, W) array, non-zero = foreground.

    Returns:
        np.ndarray or None: (4,) float32 ``x1, y1, x2, y2`` =
        ``[first col - 0.5, first row - 0.5, last col + 0.5, last row +
        0.5]``; None for an empty mask.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'bbox_of_mask: expected an (H, W) mask, got shape '
                         f'{mask.shape}')
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(xs) == 0:
        return None
    return np.array([xs[0] - 0.5, ys[0] - 0.5, xs[-1] + 0.5, ys[-1] + 0.5],
                    dtype=np.float32)


def bbox_of_points(points: np.ndarray,
                   valid: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
    """Tight box of 2D points (e.g. joints).

    Args:
        points: (K, >=2) points; the first two columns are ``x, y``.
        valid: (K,) mask of the points to use (> 0); default all finite
            points.

    Returns:
        np.ndarray or None: (4,) float32 ``x1, y1, x2, y2``; None when no
        point is valid. A single point gives a box of zero area, which
        :func:`square_crop_cs` turns into a crop of ``min_side``.
    """
    pts = np.asarray(points, np.float64).reshape(len(points), -1)[:, :2]
    keep = np.isfinite(pts).all(axis=1)
    if valid is not None:
        keep &= np.asarray(valid).reshape(-1) > 0
    if not keep.any():
        return None
    pts = pts[keep]
    return np.concatenate([pts.min(0), pts.max(0)]).astype(np.float32)


def union_bbox(bboxes: np.ndarray) -> np.ndarray:
    """The smallest box holding all given boxes.

    Args:
        bboxes: (N, >=4) ``x1, y1, x2, y2`` (extra columns such as scores
            are ignored), N >= 1.

    Returns:
        np.ndarray: (4,) float32.
    """
    b = np.asarray(bboxes, np.float32).reshape(len(bboxes), -1)[:, :4]
    if len(b) == 0:
        raise ValueError('union_bbox: no box given')
    return np.concatenate([b[:, :2].min(0), b[:, 2:].max(0)])


def bbox_iou(bboxes1: np.ndarray, bboxes2: np.ndarray) -> np.ndarray:
    """IoU of every box of one set with every box of another (mmpose's
    ``bbox_overlaps`` on numpy arrays).

    Args:
        bboxes1: (N, 4) or (4,) ``x1, y1, x2, y2``.
        bboxes2: (M, 4) or (4,).

    Returns:
        np.ndarray: (N, M) float64; 0 where the union has no area.
    """
    a = torch.from_numpy(np.asarray(bboxes1, np.float64).reshape(-1, 4))
    b = torch.from_numpy(np.asarray(bboxes2, np.float64).reshape(-1, 4))
    return bbox_overlaps(a, b).numpy()


def clip_bbox(bbox: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip a box to the image ``[-0.5, width - 0.5] x [-0.5, height -
    0.5]`` (the extent of its pixels).

    Boxes in the pixel-edge convention of mmdet and COCO (pixel ``i``
    covers ``[i, i + 1)``, the image is ``[0, width]``) are clipped with
    mmpose's ``bbox_clip_border`` instead.

    Args:
        bbox: (4,) ``x1, y1, x2, y2``.
        width: Image width.
        height: Image height.

    Returns:
        np.ndarray: (4,) float32; its area is 0 when the box lies outside.
    """
    b = np.asarray(bbox, np.float32).reshape(4)
    lo = np.array([-0.5, -0.5], np.float32)
    hi = np.array([width - 0.5, height - 0.5], np.float32)
    return np.concatenate([np.clip(b[:2], lo, hi), np.clip(b[2:], lo, hi)])


def square_crop_cs(bbox: np.ndarray,
                   padding: float = 2.0,
                   min_side: float = 1.0) -> Tuple[np.ndarray, float]:
    """Centre and side of the square crop around a box.

    The box is enlarged by ``padding`` (mmpose's ``bbox_xyxy2cs``) and
    made square on its longer side, as ``TopdownAffine`` does for a square
    input.

    Args:
        bbox: (4,) ``x1, y1, x2, y2``.
        padding: Enlargement factor (2.0 in HDR).
        min_side: Smallest side returned (a box of zero area, e.g. of a
            single joint, still gives a crop).

    Returns:
        tuple: centre (2,) float32 and side (float).
    """
    center, scale = bbox_xyxy2cs(
        np.asarray(bbox, np.float32).reshape(4), padding=padding)
    return center.astype(np.float32), max(float(scale.max()), min_side)


def crop_warp_matrix(center: Sequence[float],
                     side: float,
                     out_size: int,
                     mirror: bool = False) -> np.ndarray:
    """Affine matrix of a square crop (image pixels -> crop pixels).

    Args:
        center: (2,) crop centre in image pixels.
        side: Crop side in image pixels.
        out_size: Crop side in output pixels.
        mirror: Mirror the crop left-right (:func:`mirror_x` after the
            warp).

    Returns:
        np.ndarray: (2, 3) float64 matrix for ``cv2.warpAffine``.
    """
    mat = get_warp_matrix(
        np.asarray(center, np.float32), np.array([side, side], np.float32),
        0., (out_size, out_size)).astype(np.float64)
    if mirror:
        mat = mirror_x_matrix(out_size) @ np.vstack([mat, [0., 0., 1.]])
    return mat


def crop_to_image(points: np.ndarray, center: Sequence[float], side: float,
                  out_size: int) -> np.ndarray:
    """Map crop pixels back to image pixels (inverse of
    :func:`crop_warp_matrix` without mirroring).

    Args:
        points: (..., 2) crop pixel coordinates.
        center: (2,) crop centre in image pixels.
        side: Crop side in image pixels.
        out_size: Crop side in output pixels.

    Returns:
        np.ndarray: (..., 2) image pixel coordinates.
    """
    pts = np.asarray(points, np.float64)
    return (pts - out_size / 2) * (side / out_size) + np.asarray(
        center, np.float64)


def warp_to_crop(img: np.ndarray,
                 matrix: np.ndarray,
                 out_size: Union[int, Tuple[int, int]],
                 interpolation: str = 'bilinear') -> np.ndarray:
    """Warp an image or a label map into a crop (zero border).

    Args:
        img: (H, W) or (H, W, C) array.
        matrix: (2, 3) image -> crop matrix (:func:`crop_warp_matrix`).
        out_size: Output side, or ``(width, height)``.
        interpolation: ``'bilinear'`` for images, ``'nearest'`` for masks
            and label maps (values are kept).

    Returns:
        np.ndarray: (height, width[, C]), the input's dtype and number of
        dimensions.
    """
    if interpolation not in INTERPOLATION:
        raise ValueError(f'interpolation must be one of '
                         f'{sorted(INTERPOLATION)}, got {interpolation!r}')
    size = (out_size, out_size) if np.isscalar(out_size) else tuple(
        int(v) for v in out_size)
    out = cv2.warpAffine(
        img, np.asarray(matrix, np.float64), size,
        flags=INTERPOLATION[interpolation], borderMode=cv2.BORDER_CONSTANT,
        borderValue=0)
    if img.ndim == 3 and out.ndim == 2:  # cv2 drops a single channel
        out = out[..., None]
    return out


def context_window(center: Sequence[float], side: float,
                   img_shape: Tuple[int, int],
                   factor: float = 2.0) -> np.ndarray:
    """The part of an image that the crops of the hands inside a two-hand
    crop can reach.

    A hand box lies inside the two-hand crop (centre ``c``, side ``s``);
    that box made square and enlarged x2 reaches at most ``s`` from ``c``
    (a box of side ``b`` whose centre is at most ``(s - b) / 2`` from
    ``c`` spans ``(s - b) / 2 + b <= s``). So the square of side
    ``factor * s`` (``factor`` 2) around ``c``, intersected with the
    image, holds every pixel any hand crop samples; outside it the crops
    only see the zero border.

    Args:
        center: (2,) two-hand crop centre in image pixels.
        side: Its side in image pixels.
        img_shape: (H, W) of the image.
        factor: Side of the window in units of ``side``.

    Returns:
        np.ndarray: (4,) int64 ``x0, y0, x1, y1``: the window is
        ``img[y0:y1, x0:x1]`` (at least one pixel; the interpolation
        margin of one pixel is included).
    """
    h, w = img_shape[:2]
    half = factor * side / 2 + 1
    cx, cy = float(center[0]), float(center[1])
    x0 = int(np.clip(np.floor(cx - half), 0, w - 1))
    y0 = int(np.clip(np.floor(cy - half), 0, h - 1))
    x1 = int(np.clip(np.ceil(cx + half) + 1, x0 + 1, w))
    y1 = int(np.clip(np.ceil(cy + half) + 1, y0 + 1, h))
    return np.array([x0, y0, x1, y1], np.int64)
