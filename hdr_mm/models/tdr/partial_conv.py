"""Partial convolution (Liu et al., ECCV 2018) as used by HDR's TDR.

docs/method.md section 3: convolve ``image * mask``, renormalise by the mask
coverage of the window, zero where the window holds no valid pixel, and
the new mask is ``coverage > 0``.

Two renormalisations are offered (``renorm``):

- ``'count'`` (default, the authors' released network: the form
  ``[C(M*X) - C(0)] / sum(M) + C(0)``): the bias-free response is divided
  by the raw number of valid entries of the window, ``sum(M)`` over input
  channels and kernel taps. The official weights need it.
- ``'window'`` (Liu et al.'s paper): multiplied by
  ``window_size / sum(M)``, so a fully valid window is an ordinary
  convolution. Both compute the same function family (the weights
  differ by the constant factor ``window_size``), but from scratch the
  ``'count'`` form starts with outputs ``window_size`` times smaller and,
  under Adam's fixed step sizes, a layer without BatchNorm after it (the
  U-Net's last level) needs thousands of iterations to reach image
  values. The authors started from a pretrained inpainting checkpoint;
  short from-scratch runs use ``'window'``.

torch and mmcv have no partial convolution, hence this module. The
authors' implementation keeps a second ``mask_conv`` with a frozen
all-ones weight of the same size as the image convolution; summing the
mask over channels first and convolving with a single-channel all-ones
kernel gives exactly the same coverage at a fraction of the cost, so
no such weight is stored here (the converter checks that the official
file's ``mask_conv`` weights are all ones before dropping them).
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmpose.registry import MODELS
from ..utils.precision import fp32_region, to_fp32


def _pair(v: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


@MODELS.register_module()
class PartialConv2d(BaseModule):
    """Partial 2D convolution with a multi-channel mask.

    Args:
        in_channels: Channels of the image (and of the mask).
        out_channels: Output channels.
        kernel_size: Convolution kernel size.
        stride: Stride. Defaults to 1.
        padding: Zero padding. Defaults to 0.
        bias: Whether the convolution has a bias. Defaults to False.
        renorm: ``'count'`` (divide by the number of valid entries, the
            reference) or ``'window'`` (multiply by window size / valid
            entries). See the module docstring.
        init_cfg: mmengine init config.

    Shapes:
        - x: (N, C_in, H, W) features.
        - mask: (N, C_in, H, W), 1 for valid and 0 for hole entries (any
          non-negative weights work, the coverage is their window sum).
        - returns ``(out, new_mask)``, both (N, C_out, H', W'); ``out``
          is 0 and ``new_mask`` is 0 wherever the window saw no valid
          entry.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, Tuple[int, int]],
                 stride: Union[int, Tuple[int, int]] = 1,
                 padding: Union[int, Tuple[int, int]] = 0,
                 bias: bool = False,
                 renorm: str = 'count',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if renorm not in ('count', 'window'):
            raise ValueError(f"renorm must be 'count' or 'window', got "
                             f'{renorm!r}')
        self.renorm = renorm
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size,
                              stride, padding, bias=bias)
        # all-ones single-channel kernel summing the channel-summed mask
        self.register_buffer(
            'window', torch.ones(1, 1, *_pair(kernel_size)),
            persistent=False)

    def coverage(self, mask: torch.Tensor) -> torch.Tensor:
        """Number of valid mask entries under each output window.

        Args:
            mask: (N, C_in, H, W).

        Returns:
            Tensor: (N, 1, H', W').
        """
        return F.conv2d(mask.sum(dim=1, keepdim=True), self.window,
                        stride=self.conv.stride, padding=self.conv.padding)

    def forward(self, x: torch.Tensor,
                mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if x.shape != mask.shape:
            raise ValueError(
                f'PartialConv2d: features {tuple(x.shape)} and mask '
                f'{tuple(mask.shape)} must have the same shape')
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f'PartialConv2d: expected {self.in_channels} input '
                f'channels, got {x.shape[1]}')
        out = F.conv2d(x * mask, self.conv.weight, None, self.conv.stride,
                       self.conv.padding)
        # coverage counts reach in_channels * k * k (e.g. 9216): bf16 holds
        # integers exactly only up to 256, so the coverage, the holes and
        # the renormalisation are float32 whatever autocast does
        with torch.no_grad(), fp32_region():
            cov = self.coverage(to_fp32(mask))
            holes = cov == 0
            scale = 1.0 / cov.masked_fill(holes, 1.0)
            if self.renorm == 'window':
                scale = scale * (self.in_channels * self.window.numel())
            scale = scale.masked_fill(holes, 0.0)
            valid = (~holes).float()
        # zero where the window saw no valid entry (scale is 0 there)
        out = to_fp32(out) * scale
        if self.conv.bias is not None:
            out = torch.addcmul(out, self.conv.bias.view(1, -1, 1, 1).float(),
                                valid)
        new_mask = valid.expand(-1, self.out_channels, -1, -1)
        return out, new_mask


@MODELS.register_module()
class PartialConvBlock(BaseModule):
    """Partial convolution followed by optional BatchNorm and activation.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel size; padding is ``kernel_size // 2``.
        stride: Stride.
        norm: Add a BatchNorm2d after the convolution.
        act: ``'relu'``, ``'leaky'`` (slope 0.2) or None.
        bias: Convolution bias.
        renorm: Renormalisation of :class:`PartialConv2d`.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 norm: bool = True,
                 act: Optional[str] = 'relu',
                 bias: bool = False,
                 renorm: str = 'count',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.pconv = PartialConv2d(in_channels, out_channels, kernel_size,
                                   stride, kernel_size // 2, bias=bias,
                                   renorm=renorm)
        self.norm = nn.BatchNorm2d(out_channels) if norm else None
        acts = {
            'relu': nn.ReLU,
            'leaky': lambda: nn.LeakyReLU(0.2),
            None: nn.Identity
        }
        if act not in acts:
            raise ValueError(f'PartialConvBlock: act must be one of '
                             f'{list(acts)}, got {act!r}')
        self.act = acts[act]()

    def forward(self, x: torch.Tensor,
                mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out, new_mask = self.pconv(x, mask)
        if self.norm is not None:
            out = self.norm(out)
        return self.act(out), new_mask
