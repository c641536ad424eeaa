"""Batched hand crops in torch for the HDR pipeline.

Step 3 of HDR crops each hand out of the two-hand crop: the box of the
hand's (predicted) amodal mask, made square and enlarged x2, warped to
``out_size``. The data transforms do the same on numpy arrays with
OpenCV one sample at a time; inside the model the crops of a whole batch
(both hands of every image) are taken at once with ``grid_sample``.

Affine matrices follow OpenCV's and mmpose's ``get_warp_matrix``
convention: a (2, 3) matrix ``M`` maps input pixel coordinates to output
pixel coordinates (``p_out = M @ [x, y, 1]``), pixel centres at integer
coordinates. With rotation 0 the crop of centre ``c`` and side ``s`` is
``M = [[k, 0, o/2 - k*cx], [0, k, o/2 - k*cy]]`` with ``k = o / s``.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def mask_boxes(masks: Tensor, thr: float = 0.5) -> Tuple[Tensor, Tensor]:
    """Tight boxes of binary masks.

    Args:
        masks: (N, H, W) masks; pixels ``> thr`` count as foreground.
        thr: Foreground threshold.

    Returns:
        tuple:
        - boxes: (N, 4) ``x1, y1, x2, y2`` in pixels (inclusive pixel
          extent, i.e. ``x2 = last column + 1``); all zero for an empty
          mask.
        - valid: (N,) bool, False where a mask is empty.
    """
    fg = masks > thr
    n, h, w = fg.shape
    cols = fg.any(dim=1)  # (N, W)
    rows = fg.any(dim=2)  # (N, H)
    valid = cols.any(dim=1)
    xs = torch.arange(w, device=masks.device).expand(n, w)
    ys = torch.arange(h, device=masks.device).expand(n, h)
    big = max(h, w) + 1
    x1 = torch.where(cols, xs, big).min(dim=1).values
    x2 = torch.where(cols, xs, -1).max(dim=1).values + 1
    y1 = torch.where(rows, ys, big).min(dim=1).values
    y2 = torch.where(rows, ys, -1).max(dim=1).values + 1
    boxes = torch.stack([x1, y1, x2, y2], dim=1).float()
    return boxes * valid[:, None], valid


def square_crop_affine(boxes: Tensor,
                       out_size: int,
                       padding: float = 2.0,
                       flip: Tensor = None) -> Tensor:
    """Affine matrices of square crops around boxes.

    Args:
        boxes: (N, 4) ``x1, y1, x2, y2``.
        out_size: Side of the output crop in pixels.
        padding: Enlargement of the box's longer side (2.0 in HDR).
        flip: Optional (N,) bool; where True the crop is also mirrored
            horizontally (HDR mirrors left hands to look right).

    Returns:
        Tensor: (N, 2, 3) matrices, input pixels -> crop pixels.
    """
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = (boxes[:, 2:] - boxes[:, :2]).max(dim=1).values * padding
    k = out_size / side.clamp(min=1e-6)
    zeros = torch.zeros_like(k)
    half = out_size / 2
    mat = torch.stack([
        torch.stack([k, zeros, half - k * centre[:, 0]], dim=1),
        torch.stack([zeros, k, half - k * centre[:, 1]], dim=1),
    ], dim=1)
    if flip is not None:
        # x' = (out_size - 1) - x: mirror about the crop's centre column
        mirror = torch.tensor([[-1., 0., out_size - 1.], [0., 1., 0.]],
                              device=boxes.device, dtype=mat.dtype)
        flipped = compose_affine(mirror.expand_as(mat), mat)
        mat = torch.where(flip[:, None, None], flipped, mat)
    return mat


def compose_affine(outer: Tensor, inner: Tensor) -> Tensor:
    """Matrix of ``outer(inner(p))`` for (N, 2, 3) affine matrices."""
    return outer[..., :2] @ inner + torch.cat(
        [torch.zeros_like(outer[..., 2:]), torch.zeros_like(outer[..., 2:]),
         outer[..., 2:]], dim=-1)


def invert_affine(mat: Tensor) -> Tensor:
    """Inverse of (N, 2, 3) affine matrices."""
    lin_inv = torch.linalg.inv(mat[..., :2])
    return torch.cat([lin_inv, -lin_inv @ mat[..., 2:]], dim=-1)


def transform_points(points: Tensor, mat: Tensor) -> Tensor:
    """Apply (N, 2, 3) affine matrices to (N, K, 2) points."""
    return points @ mat[..., :2].transpose(1, 2) + mat[..., None, :, 2]


def warp_affine(images: Tensor,
                mat: Tensor,
                out_size: int,
                mode: str = 'bilinear') -> Tensor:
    """Warp a batch of images like ``cv2.warpAffine`` (zero border).

    Args:
        images: (N, C, H, W) float images or masks.
        mat: (N, 2, 3) matrices, input pixels -> output pixels.
        out_size: Side of the square output.
        mode: ``'bilinear'`` for images, ``'nearest'`` for masks.

    Returns:
        Tensor: (N, C, out_size, out_size).
    """
    n, _, h, w = images.shape
    inv = invert_affine(mat)  # output pixels -> input pixels
    # normalised output coords (align_corners=False) -> output pixels
    o = out_size
    to_pix = torch.tensor([[o / 2, 0, (o - 1) / 2], [0, o / 2, (o - 1) / 2]],
                          device=images.device, dtype=images.dtype)
    # input pixels -> normalised input coords
    to_norm = torch.tensor([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1]],
                           device=images.device, dtype=images.dtype)
    theta = compose_affine(to_norm.expand(n, 2, 3),
                           compose_affine(inv, to_pix.expand(n, 2, 3)))
    grid = F.affine_grid(theta, (n, images.shape[1], o, o),
                         align_corners=False)
    return F.grid_sample(
        images, grid, mode=mode, padding_mode='zeros', align_corners=False)
