"""The TDR generator: a partial-convolution U-Net with transformer stages.

docs/method.md section 3. Encoder level ``i`` (1-based) is a stride-2 partial
conv (+ BatchNorm except level 1) + ReLU. Decoder level ``i`` upsamples
the deeper features and mask 2x (nearest), concatenates encoder level
``i - 1`` (level 0 = the network input) and applies a 3x3 stride-1
partial conv + BatchNorm + LeakyReLU(0.2); decoder level 1 outputs the
image channels with a bias, no norm, no activation. PVTv2 stages follow
chosen encoder/decoder levels (paper: encoder 3 and 5, decoder 5 and 3).
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmpose.registry import MODELS
from .partial_conv import PartialConvBlock
from .pvt_block import PVTStage

#: The paper's transformer stages: position -> PVTStage arguments.
#: ``enc<i>`` follows encoder level i, ``dec<i>`` decoder level i.
PAPER_TRANSFORMERS = dict(
    enc3=dict(num_heads=2, mlp_ratio=8, sr_ratio=4),
    enc5=dict(num_heads=8, mlp_ratio=4, sr_ratio=1),
    dec5=dict(num_heads=8, mlp_ratio=4, sr_ratio=1),
    dec3=dict(num_heads=2, mlp_ratio=8, sr_ratio=4),
)


@MODELS.register_module()
class PConvUNet(BaseModule):
    """Partial-conv U-Net of TDR.

    Args:
        in_channels: Image input channels (8: two masked RGB images and
            two modal channels, docs/method.md section 2). The mask input has
            the same number of channels.
        out_channels: Output image channels.
        enc_channels: Output channels of each encoder level; its length
            is the depth (paper: 64, 128, 256, 512, 512, 512, 512, 512).
        enc_kernels: Kernel size of each encoder level (paper: 7, 5, 5,
            then 3).
        transformers: Position (``'enc<i>'``/``'dec<i>'``) -> PVTStage
            kwargs (``num_heads``, ``mlp_ratio``, ``sr_ratio``,
            ``depth``); ``dim`` is taken from the level. None = the
            paper's four stages.
        renorm: Renormalisation of every partial conv: ``'count'``
            (the reference, needed by the official weights) or
            ``'window'`` (trains faster from scratch); see
            :mod:`hdr_mm.models.tdr.partial_conv`.
        init_cfg: mmengine init config.

    Shapes:
        ``forward(x, mask)``: x and mask (N, in_channels, H, W) with H and
        W divisible by ``2 ** depth`` (and by the reduction of the
        transformer stages at their level) -> (N, out_channels, H, W).
    """

    #: kept float32 by a bf16 inference preparation
    #: (:func:`hdr_mm.models.utils.prepare_for_inference`): decoder level 1
    #: paints the image that is composed into the crop
    fp32_submodules = ('decoders.0', )
    #: ``prepare_for_inference`` keeps the contiguous layout: on the
    #: paper-size generator channels_last was measured 9% slower (2.73 s
    #: vs 2.51 s for 2 crops, 1 thread; the masks and the concatenations
    #: with the network input keep converting layouts)
    channels_last_inference = False

    def __init__(self,
                 in_channels: int = 8,
                 out_channels: int = 3,
                 enc_channels: Sequence[int] = (64, 128, 256, 512, 512, 512,
                                                512, 512),
                 enc_kernels: Sequence[int] = (7, 5, 5, 3, 3, 3, 3, 3),
                 transformers: Optional[Dict[str, dict]] = None,
                 renorm: str = 'count',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(enc_channels) != len(enc_kernels):
            raise ValueError(
                f'enc_channels ({len(enc_channels)}) and enc_kernels '
                f'({len(enc_kernels)}) must have one entry per level')
        self.in_channels = in_channels
        self.depth = len(enc_channels)
        transformers = (PAPER_TRANSFORMERS
                        if transformers is None else transformers)

        self.encoders = nn.ModuleList()
        prev = in_channels
        for i, (ch, k) in enumerate(zip(enc_channels, enc_kernels)):
            self.encoders.append(
                PartialConvBlock(prev, ch, k, stride=2, norm=i > 0,
                                 act='relu', renorm=renorm))
            prev = ch
        # decoders[i] is decoder level i + 1; built deepest first below
        skip_channels = (in_channels, ) + tuple(enc_channels[:-1])
        dec_out = (out_channels, ) + tuple(enc_channels[:-1])
        decoders = []
        for level in range(self.depth, 0, -1):
            cin = prev + skip_channels[level - 1]
            last = level == 1
            decoders.append(
                PartialConvBlock(cin, dec_out[level - 1], 3, stride=1,
                                 norm=not last,
                                 act=None if last else 'leaky', bias=last,
                                 renorm=renorm))
            prev = dec_out[level - 1]
        self.decoders = nn.ModuleList(reversed(decoders))

        self.transformers = nn.ModuleDict()
        for pos, cfg in transformers.items():
            where, level = pos[:3], int(pos[3:]) if pos[3:].isdigit() else 0
            if where not in ('enc', 'dec') or not 1 <= level <= self.depth \
                    or (where == 'dec' and level == 1):
                raise ValueError(
                    f'transformer position {pos!r}: expected enc<i> or '
                    f'dec<i> with 1 <= i <= {self.depth} (dec1 outputs '
                    'the image)')
            dim = (enc_channels[level - 1]
                   if where == 'enc' else dec_out[level - 1])
            self.transformers[pos] = PVTStage(dim=dim, **cfg)

    def init_weights(self) -> None:
        """Kaiming-normal partial convs; truncated-normal linears and
        fan-out-normal convs in the transformer stages (the PVTv2
        initialisation), unless an ``init_cfg`` says otherwise."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        for m in self.modules():
            if isinstance(m, PartialConvBlock):
                nn.init.kaiming_normal_(m.pconv.conv.weight, mode='fan_in')
                if m.pconv.conv.bias is not None:
                    nn.init.zeros_(m.pconv.conv.bias)
        for stage in self.transformers.values():
            for m in stage.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=.02)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Conv2d):
                    fan_out = (m.kernel_size[0] * m.kernel_size[1] *
                               m.out_channels) // m.groups
                    nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor,
                mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Run the U-Net.

        Args:
            x: (N, in_channels, H, W) image input.
            mask: (N, in_channels, H, W) mask input (1 valid, 0 hole).

        Returns:
            tuple: output (N, out_channels, H, W) and its mask.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'PConvUNet expects (N, {self.in_channels}, '
                             f'H, W) input, got {tuple(x.shape)}')
        stride = 2**self.depth
        if x.shape[2] % stride or x.shape[3] % stride:
            raise ValueError(
                f'PConvUNet with {self.depth} levels needs H and W '
                f'divisible by {stride}, got {tuple(x.shape[2:])}')
        feats, masks = [x], [mask]
        for i, enc in enumerate(self.encoders, start=1):
            h, m = enc(feats[-1], masks[-1])
            if f'enc{i}' in self.transformers:
                h = self.transformers[f'enc{i}'](h)
            feats.append(h)
            masks.append(m)
        h, m = feats[-1], masks[-1]
        for level in range(self.depth, 0, -1):
            h = F.interpolate(h, scale_factor=2, mode='nearest')
            m = F.interpolate(m, scale_factor=2, mode='nearest')
            h = torch.cat([h, feats[level - 1]], dim=1)
            m = torch.cat([m, masks[level - 1]], dim=1)
            h, m = self.decoders[level - 1](h, m)
            if f'dec{level}' in self.transformers:
                h = self.transformers[f'dec{level}'](h)
        return h, m
