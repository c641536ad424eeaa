"""Coordinate channels (CoordConv-style), shared by SHPE and HASM."""
import torch
from torch import Tensor


def coordinate_channels(x: Tensor) -> Tensor:
    """Two channels holding x and y, each linearly spaced in [-1, 1].

    Args:
        x: A (B, C, H, W) map (only its size, dtype and device are used).

    Returns:
        Tensor: (B, 2, H, W); channel 0 varies along W, channel 1 along H.
    """
    B, _, H, W = x.shape
    xs = torch.linspace(-1, 1, W, dtype=x.dtype, device=x.device)
    ys = torch.linspace(-1, 1, H, dtype=x.dtype, device=x.device)
    grid = torch.stack([xs[None, :].expand(H, W), ys[:, None].expand(H, W)])
    return grid[None].expand(B, 2, H, W)
