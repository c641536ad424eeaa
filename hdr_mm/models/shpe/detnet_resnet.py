"""The truncated, dilated ResNet-50 trunk of the DetNet-style SHPE.

HDR's single-hand pose estimator (docs/method.md section 3) uses the first
three stages of a ResNet-50 and keeps a stride of 4: one stride-2 stem,
one stride-2 bottleneck whose identity branch is a 2x2 max-pool, and two
dilated stages instead of strided ones. A 256x256 crop becomes a
64x64x256 feature map.

The residual units are mmpose's own :class:`~mmpose.models.backbones.
resnet.Bottleneck` (stride on the 3x3 conv, "pytorch" style), so the
parameter names follow mmpose's/torchvision's ResNet-50 (``conv1``,
``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0``...). Only the
stage layout differs, which is why mmpose's ``ResNet`` itself cannot be
configured into this trunk (it has no max-pool shortcut, always adds a
stem max-pool and puts the dilation on the first unit of a stage
differently).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_conv_layer, build_norm_layer
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.models.backbones.resnet import Bottleneck
from mmpose.registry import MODELS


@MODELS.register_module()
class DetNetResNet(BaseBackbone):
    """Truncated, dilated ResNet-50 trunk of DetNet (SHPE in HDR).

    Layout (for a 256x256 input)::

        conv1 7x7/2 + bn1 + ReLU                          -> 64 x 128 x 128
        layer1: 2 bottlenecks (64->256) + 1 bottleneck with
                stride 2 and a 2x2 max-pool identity branch -> 256 x 64 x 64
        layer2: 4 bottlenecks (->512), dilation 2          -> 512 x 64 x 64
        layer3: 6 bottlenecks (->1024), dilation 4         -> 1024 x 64 x 64
        squeeze: conv 3x3 + BN + ReLU (1024->256)         -> 256 x 64 x 64

    Args:
        in_channels: Channels of the input image.
        stem_channels: Channels of the 7x7 stem.
        stage_blocks: Bottlenecks per stage. The last bottleneck of stage 1
            is the stride-2 max-pool unit.
        stage_out_channels: Output channels of each stage (4 x the
            bottleneck width).
        dilations: Dilation of the 3x3 convs in each stage.
        out_channels: Channels after the squeeze conv.
        norm_cfg: Normalisation layers.
        init_cfg: Initialisation (Kaiming for convs, 1/0 for BN).

    Shapes:
        - input: (B, in_channels, H, W), H and W multiples of 4
        - output: a 1-tuple with the (B, out_channels, H/4, W/4) map
    """

    def __init__(self,
                 in_channels: int = 3,
                 stem_channels: int = 64,
                 stage_blocks: Sequence[int] = (3, 4, 6),
                 stage_out_channels: Sequence[int] = (256, 512, 1024),
                 dilations: Sequence[int] = (1, 2, 4),
                 out_channels: int = 256,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[list] = [
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm'])
                 ]):
        super().__init__(init_cfg=init_cfg)
        if not (len(stage_blocks) == len(stage_out_channels) ==
                len(dilations) == 3):
            raise ValueError(
                'DetNetResNet has exactly 3 stages: stage_blocks, '
                'stage_out_channels and dilations need 3 values each, got '
                f'{stage_blocks}, {stage_out_channels}, {dilations}')
        if stage_blocks[0] < 2:
            raise ValueError('stage 1 needs >= 2 blocks (the last one is the '
                             f'max-pool unit), got {stage_blocks[0]}')
        self.out_channels = out_channels

        self.conv1 = build_conv_layer(
            None, in_channels, stem_channels, 7, stride=2, padding=3,
            bias=False)
        self.norm1_name, norm1 = build_norm_layer(
            norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)

        in_ch = stem_channels
        for i, (n, out_ch, dil) in enumerate(
                zip(stage_blocks, stage_out_channels, dilations)):
            blocks = []
            for b in range(n):
                pool_unit = (i == 0 and b == n - 1)
                downsample = None
                if pool_unit:
                    # halves the size: identity branch is a 2x2 max-pool
                    downsample = nn.MaxPool2d(kernel_size=2, stride=2)
                elif in_ch != out_ch:
                    downsample = nn.Sequential(
                        build_conv_layer(None, in_ch, out_ch, 1, bias=False),
                        build_norm_layer(norm_cfg, out_ch)[1])
                blocks.append(
                    Bottleneck(
                        in_ch,
                        out_ch,
                        expansion=4,
                        stride=2 if pool_unit else 1,
                        dilation=dil,
                        downsample=downsample,
                        style='pytorch',
                        norm_cfg=norm_cfg))
                in_ch = out_ch
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))

        self.squeeze = ConvModule(
            in_ch,
            out_channels,
            3,
            padding=1,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=dict(type='ReLU'))

    @property
    def norm1(self) -> nn.Module:
        """The stem's normalisation layer."""
        return getattr(self, self.norm1_name)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Compute the feature map.

        Args:
            x: Images (B, C, H, W).

        Returns:
            tuple: one tensor (B, out_channels, H/4, W/4).
        """
        if x.dim() != 4 or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError('DetNetResNet expects (B, C, H, W) images with H '
                             f'and W multiples of 4, got {tuple(x.shape)}')
        x = self.relu(self.norm1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return (self.squeeze(x), )
