"""The TDR inpainting discriminator (docs/method.md section 3).

A patch discriminator on ``[image (3), M_t (1), M_o (1)]``: 4x4 spectral-
normalised convolutions without bias, three with stride 2 and two with
stride 1 (channels 64, 128, 256, 512, 1), LeakyReLU(0.2) between them,
sigmoid output. Spectral normalisation is torch's
``torch.nn.utils.spectral_norm`` (one power iteration per training
forward; the stored ``u``/``v`` vectors are used as they are in eval).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmpose.registry import MODELS


@MODELS.register_module()
class InpaintDiscriminator(BaseModule):
    """Spectral-norm patch discriminator.

    Args:
        in_channels: Input channels (5: image and the two modal masks).
        channels: Output channels of the hidden convolutions (paper:
            64, 128, 256, 512); a final conv maps to one channel.
        strides: Stride of each hidden convolution (paper: 2, 2, 2, 1);
            the final conv has stride 1.
        use_sigmoid: Apply a sigmoid to the output (paper: True; the
            adversarial loss then takes probabilities).
        init_std: Standard deviation of the normal initialisation of
            the (pre-normalisation) weights.
        init_cfg: mmengine init config; when given it replaces the
            normal initialisation.

    Shapes:
        (N, in_channels, H, W) -> (N, 1, H', W') with H' = H / 8 - 2 for
        the paper's layout.
    """

    def __init__(self,
                 in_channels: int = 5,
                 channels: Sequence[int] = (64, 128, 256, 512),
                 strides: Sequence[int] = (2, 2, 2, 1),
                 use_sigmoid: bool = True,
                 init_std: float = 0.02,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(channels) != len(strides):
            raise ValueError('channels and strides need one entry per '
                             f'layer, got {len(channels)} and '
                             f'{len(strides)}')
        self.use_sigmoid = use_sigmoid
        self.init_std = init_std
        layers = []
        prev = in_channels
        for ch, s in zip(list(channels) + [1], list(strides) + [1]):
            layers.append(
                nn.utils.spectral_norm(
                    nn.Conv2d(prev, ch, 4, stride=s, padding=1,
                              bias=False)))
            prev = ch
        self.convs = nn.ModuleList(layers)
        self.act = nn.LeakyReLU(0.2)

    def init_weights(self) -> None:
        """N(0, init_std) on ``weight_orig`` (mmengine's ``Normal`` init
        would write the derived ``weight`` attribute of a spectral-norm
        conv, which the next forward recomputes)."""
        super().init_weights()
        if self.init_cfg is None:
            for conv in self.convs:
                nn.init.normal_(conv.weight_orig, 0.0, self.init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return per-patch real probabilities (logits if
        ``use_sigmoid`` is False), shape (N, 1, H', W')."""
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = self.act(x)
        return torch.sigmoid(x) if self.use_sigmoid else x
