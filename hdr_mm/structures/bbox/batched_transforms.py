"""Batched torch twin of :mod:`.transforms` (box and crop geometry).

The model crops both hands of every image of a batch at once; these
functions follow exactly the conventions of the numpy module (pixel
centres at integers, exact mask extents, crops of mmpose's
``get_warp_matrix``, mirroring by :func:`.transforms.mirror_x_matrix`,
zero border).
Affine matrices are (N, 2, 3) and map input pixels to output pixels.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .transforms import mirror_x_matrix


def mask_bboxes(masks: Tensor, thr: float = 0.5) -> Tuple[Tensor, Tensor]:
    """Exact extents of a batch of binary masks.

    Args:
        masks: (N, H, W); pixels ``> thr`` are foreground.
        thr: Foreground threshold.

    Returns:
        tuple:
        - boxes: (N, 4) float ``x1, y1, x2, y2`` = ``[first col - 0.5,
          first row - 0.5, last col + 0.5, last row + 0.5]``; zeros for an
          empty mask;
        - valid: (N,) bool, False where a mask is empty.
    """
    fg = masks > thr
    n, h, w = fg.shape
    cols, rows = fg.any(dim=1), fg.any(dim=2)  # (N, W), (N, H)
    valid = cols.any(dim=1)
    xs = torch.arange(w, device=masks.device).expand(n, w)
    ys = torch.arange(h, device=masks.device).expand(n, h)
    big = max(h, w) + 1
    boxes = torch.stack([
        torch.where(cols, xs, big).min(dim=1).values - 0.5,
        torch.where(rows, ys, big).min(dim=1).values - 0.5,
        torch.where(cols, xs, -1).max(dim=1).values + 0.5,
        torch.where(rows, ys, -1).max(dim=1).values + 0.5,
    ], dim=1).float()
    return boxes * valid[:, None], valid


def square_crop_cs(boxes: Tensor,
                   padding: float = 2.0,
                   min_side: float = 1.0) -> Tuple[Tensor, Tensor]:
    """Centres and sides of the square crops around boxes.

    Args:
        boxes: (N, 4) ``x1, y1, x2, y2``.
        padding: Enlargement factor (2.0 in HDR).
        min_side: Smallest side returned.

    Returns:
        tuple: centres (N, 2) and sides (N,).
    """
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    sides = (boxes[:, 2:] - boxes[:, :2]).max(dim=1).values * padding
    return centers, sides.clamp(min=min_side)


def crop_warp_matrix(centers: Tensor,
                     sides: Tensor,
                     out_size: int,
                     mirror: Optional[Tensor] = None) -> Tensor:
    """Affine matrices of square crops (image pixels -> crop pixels).

    Args:
        centers: (N, 2) crop centres in image pixels.
        sides: (N,) crop sides in image pixels.
        out_size: Crop side in output pixels.
        mirror: Optional (N,) bool: mirror those crops left-right.

    Returns:
        Tensor: (N, 2, 3).
    """
    k = out_size / sides
    zeros = torch.zeros_like(k)
    half = out_size / 2
    mat = torch.stack([
        torch.stack([k, zeros, half - k * centers[:, 0]], dim=1),
        torch.stack([zeros, k, half - k * centers[:, 1]], dim=1),
    ], dim=1)
    if mirror is not None:
        flip = torch.as_tensor(mirror_x_matrix(out_size), device=mat.device,
                               dtype=mat.dtype)
        mat = torch.where(mirror[:, None, None],
                          compose_affine(flip.expand_as(mat), mat), mat)
    return mat


def crop_to_image(points: Tensor, centers: Tensor, sides: Tensor,
                  out_size: int) -> Tensor:
    """Map (N, K, 2) crop pixels back to image pixels (no mirroring)."""
    return (points - out_size / 2) * (sides / out_size)[:, None, None] + \
        centers[:, None]


def translation(offsets: Tensor) -> Tensor:
    """(N, 2, 3) matrices of ``p -> p + offsets``."""
    eye = torch.eye(2, device=offsets.device, dtype=offsets.dtype)
    return torch.cat([eye.expand(len(offsets), 2, 2), offsets[..., None]],
                     dim=2)


def compose_affine(outer: Tensor, inner: Tensor) -> Tensor:
    """Matrix of ``outer(inner(p))`` for (N, 2, 3) affine matrices."""
    return torch.cat([outer[..., :2] @ inner[..., :2],
                      outer[..., :2] @ inner[..., 2:] + outer[..., 2:]],
                     dim=-1)


def invert_affine(mat: Tensor) -> Tensor:
    """Inverse of (N, 2, 3) affine matrices."""
    lin_inv = torch.linalg.inv(mat[..., :2])
    return torch.cat([lin_inv, -lin_inv @ mat[..., 2:]], dim=-1)


def warp_affine(images: Tensor,
                mat: Tensor,
                out_size: int,
                mode: str = 'bilinear') -> Tensor:
    """Warp a batch like ``cv2.warpAffine`` with a zero border.

    Args:
        images: (N, C, H, W) float images or masks.
        mat: (N, 2, 3) input pixels -> output pixels.
        out_size: Side of the square output.
        mode: ``'bilinear'`` for images, ``'nearest'`` for masks.

    Returns:
        Tensor: (N, C, out_size, out_size).
    """
    n, c, h, w = images.shape
    o = out_size
    # output pixels -> input pixels, framed by the normalised coordinates
    # of grid_sample (align_corners=False: -1 and 1 are the outer edges)
    to_pix = torch.tensor([[o / 2, 0, (o - 1) / 2], [0, o / 2, (o - 1) / 2]],
                          device=images.device, dtype=mat.dtype)
    to_norm = torch.tensor([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1]],
                           device=images.device, dtype=mat.dtype)
    theta = compose_affine(
        to_norm.expand(n, 2, 3),
        compose_affine(invert_affine(mat), to_pix.expand(n, 2, 3)))
    grid = F.affine_grid(theta.to(images.dtype), (n, c, o, o),
                         align_corners=False)
    return F.grid_sample(images, grid, mode=mode, padding_mode='zeros',
                         align_corners=False)


def pad_stack(tensors: Sequence[Tensor], pad_value: float = 0.) -> Tensor:
    """Stack (C, H_i, W_i) tensors into (N, C, max H, max W), padding each
    at the bottom and right (so pixel coordinates are unchanged).

    Args:
        tensors: Non-empty list of tensors with the same C and dtype.
        pad_value: Value of the padding.

    Returns:
        Tensor: the batch.
    """
    if not tensors:
        raise ValueError('pad_stack: no tensor given')
    h = max(t.shape[-2] for t in tensors)
    w = max(t.shape[-1] for t in tensors)
    out: List[Tensor] = [
        F.pad(t, (0, w - t.shape[-1], 0, h - t.shape[-2]), value=pad_value)
        for t in tensors
    ]
    return torch.stack(out)
