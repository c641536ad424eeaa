"""PVTv2-style transformer stage inserted into the TDR U-Net.

docs/method.md section 3: a block with spatial-reduction attention and an MLP
holding a 3x3 depth-wise convolution (PVTv2, Wang et al. 2022), block
LayerNorms with eps 1e-6, and one more LayerNorm after the block(s).
The stage works on feature maps: (N, C, H, W) in, same shape out, with
no patch embedding (every pixel is a token).

mmseg's ``MixVisionTransformer`` pieces (``EfficientMultiheadAttention``,
``MixFFN``) build their attention on ``nn.MultiheadAttention`` with a
fused in-projection and a 1x1-conv FFN, so their parameters cannot hold
the official weights' separate ``q``/``kv`` linears without reshaping
at every load; the few lines here keep the layout of the reference.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmpose.registry import MODELS


def feature_map(tokens: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
    """(N, H*W, C) tokens -> (N, C, H, W) map, as a permuted view of the
    tokens (channels-last strides).

    The same values as ``tokens.transpose(1, 2).reshape(N, C, H, W)``,
    but exported to ONNX as one 4D transpose from NHWC, which OpenVINO
    folds into the convolution that reads it: the 3D transposes of large
    token maps ran on a slow reference kernel there (half of the paper-size
    TDR's time in bf16 on an Intel Xeon with AMX).
    """
    n, _, c = tokens.shape
    return tokens.reshape(n, *hw, c).permute(0, 3, 1, 2)


def tokens_of(fmap: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) map -> (N, H*W, C) tokens, row-major over (H, W):
    the inverse of :func:`feature_map`, the same values as
    ``fmap.flatten(2).transpose(1, 2)``."""
    n, c = fmap.shape[:2]
    return fmap.permute(0, 2, 3, 1).reshape(n, -1, c)


class SRAttention(nn.Module):
    """Multi-head attention whose keys/values come from a spatially
    reduced map (a ``sr_ratio`` x ``sr_ratio`` stride-``sr_ratio`` conv
    followed by LayerNorm, default eps) when ``sr_ratio > 1``.

    Args:
        dim: Token channels.
        num_heads: Heads; must divide ``dim``.
        sr_ratio: Spatial reduction of keys/values.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 1) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads '
                             f'{num_heads}')
        self.num_heads = num_heads
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, stride=sr_ratio)
            self.sr_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
        """x: (N, L, C) tokens of an (H, W) map; returns (N, L, C)."""
        n, length, c = x.shape
        heads = self.num_heads
        q = self.q(x).view(n, length, heads, c // heads).transpose(1, 2)
        src = x
        if self.sr_ratio > 1:
            src = self.sr_norm(tokens_of(self.sr(feature_map(x, hw))))
        k, v = self.kv(src).view(n, -1, 2, heads,
                                 c // heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(n, length, c))


def pointwise(fmap: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """A ``Linear`` layer applied at every position of a feature map, as
    a 1x1 convolution with its weight.

    Args:
        fmap: (N, C_in, H, W) map.
        linear: ``nn.Linear(C_in, C_out)``.

    Returns:
        Tensor: (N, C_out, H, W), the values ``linear`` gives the tokens
        of ``fmap``.
    """
    return F.conv2d(fmap, linear.weight[:, :, None, None], linear.bias)


class DWConvMLP(nn.Module):
    """Linear -> 3x3 depth-wise conv -> GELU -> Linear on tokens.

    The two ``Linear`` layers (the authors' parameters) run as 1x1
    convolutions on the feature map (:func:`pointwise`), so the hidden
    features, ``mlp_ratio`` times wider than the tokens, stay a map from
    the first layer to the last and only the narrow output is turned
    back into tokens. On tokens, the hidden map's transpose after the
    depth-wise conv ran on a slow reference kernel in OpenVINO: the
    paper-size TDR graph took 231 ms in bf16 and 216 ms in int8 with it,
    197 and 182 ms without (AMD EPYC Zen 4, 2 threads), PyTorch fp32 512
    against 422 ms; the outputs are the same to float rounding.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
        """x: (N, H*W, C) tokens of an (H, W) map; returns (N, H*W, C)."""
        h = self.act(self.dwconv(pointwise(feature_map(x, hw), self.fc1)))
        return tokens_of(pointwise(h, self.fc2))


class PVTBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 sr_ratio: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = SRAttention(dim, num_heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = DWConvMLP(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), hw)
        return x + self.mlp(self.norm2(x), hw)


@MODELS.register_module()
class PVTStage(BaseModule):
    """``depth`` PVTv2 blocks then a LayerNorm, on a feature map.

    Args:
        dim: Channels of the feature map.
        num_heads: Attention heads.
        mlp_ratio: Hidden width of the MLP relative to ``dim``.
        sr_ratio: Spatial reduction of keys/values (1: none).
        depth: Number of blocks. The paper uses 1.
        eps: LayerNorm epsilon of the blocks and the final norm.

    Shapes:
        (N, dim, H, W) -> (N, dim, H, W); H and W must be divisible by
        ``sr_ratio``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 sr_ratio: int = 1,
                 depth: int = 1,
                 eps: float = 1e-6,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.blocks = nn.ModuleList(
            PVTBlock(dim, num_heads, mlp_ratio, sr_ratio, eps)
            for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        tokens = tokens_of(x)
        for blk in self.blocks:
            tokens = blk(tokens, (h, w))
        return feature_map(self.norm(tokens), (h, w))
