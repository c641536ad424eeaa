"""TDR losses (docs/method.md section 3), registered in mmpose's ``MODELS``.

Every loss returns an already weighted scalar (``loss_weight`` x value).
Pixel losses average over all N*C*H*W elements after masking, as the
reference does (``L1(m*out, m*gt)``), so their scale depends on the size
of the hole like in the authors' training.
"""
import os.path as osp
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger, print_log

from mmpose.registry import MODELS


@MODELS.register_module()
class MaskedL1Loss(nn.Module):
    """``loss_weight * mean(|mask * (pred - target)|)``.

    Args:
        loss_weight: Weight of the loss.

    Shapes:
        pred, target (N, C, H, W); mask (N, 1, H, W) or (N, C, H, W).
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        diff = (pred - target) * mask
        return self.loss_weight * diff.abs().mean()


@MODELS.register_module()
class TotalVariationLoss(nn.Module):
    """Anisotropic TV: mean |horizontal diff| + mean |vertical diff|.

    Args:
        loss_weight: Weight of the loss.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        dx = (img[..., :, 1:] - img[..., :, :-1]).abs().mean()
        dy = (img[..., 1:, :] - img[..., :-1, :]).abs().mean()
        return self.loss_weight * (dx + dy)


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C) Gram matrix divided by C*H*W."""
    n, c, h, w = feat.shape
    f = feat.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


#: torchvision vgg16 ``features`` slices ending at pool1, pool2, pool3
VGG16_SLICES = ((0, 5), (5, 10), (10, 17))


class VGG16Features(nn.Module):
    """Frozen VGG16 feature extractor returning pool1, pool2, pool3.

    The architecture is torchvision's ``vgg16(weights=None)``; the
    weights come from a local file only (nothing is downloaded): a
    torchvision state dict (``features.*``, ``classifier.*`` optional),
    possibly wrapped under ``state_dict``.

    Args:
        weights: Path of the local weight file.

    Raises:
        FileNotFoundError: ``weights`` does not exist.
        ValueError: the file cannot be read or lacks VGG16 feature keys.
    """

    def __init__(self, weights: str) -> None:
        super().__init__()
        from torchvision.models import vgg16
        if not osp.isfile(weights):
            raise FileNotFoundError(
                f'VGG16 weight file not found: {weights} (set '
                'vgg_weights=None in the config to train without the '
                'perceptual and style losses)')
        try:
            sd = torch.load(weights, map_location='cpu', weights_only=True)
        except Exception as e:
            raise ValueError(f'cannot read VGG16 weights {weights}: '
                             f'{type(e).__name__}: {e}') from e
        if isinstance(sd, dict) and 'state_dict' in sd:
            sd = sd['state_dict']
        features = vgg16(weights=None).features[:VGG16_SLICES[-1][1]]
        wanted = {k for k in features.state_dict()}
        got = {
            k[len('features.'):]: v
            for k, v in sd.items() if k.startswith('features.')
        } if isinstance(sd, dict) else {}
        missing = sorted(wanted - set(got))
        if missing:
            raise ValueError(
                f'{weights} is not a torchvision VGG16 state dict: missing '
                f'{["features." + k for k in missing]}')
        try:
            features.load_state_dict({k: got[k] for k in wanted})
        except RuntimeError as e:
            raise ValueError(f'{weights}: VGG16 weights do not fit: {e}')
        self.slices = nn.ModuleList(features[a:b] for a, b in VGG16_SLICES)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> 'VGG16Features':
        return super().train(False)  # frozen, always eval

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """(N, 3, H, W) ImageNet-normalised RGB -> [pool1, pool2, pool3]."""
        feats = []
        for s in self.slices:
            x = s(x)
            feats.append(x)
        return feats


@MODELS.register_module()
class PerceptualStyleLoss(nn.Module):
    """Perceptual (feature L1) and style (Gram L1) losses on VGG16
    pool1..pool3, each computed on ``mask * image`` for a given hole.

    Args:
        vgg_weights: Local VGG16 weight file; None turns both terms off
            (logged once at construction).
        perceptual_weight: Weight of the perceptual term.
        style_weight: Weight of the style term.
    """

    def __init__(self,
                 vgg_weights: Optional[str] = None,
                 perceptual_weight: float = 0.1,
                 style_weight: float = 250.0) -> None:
        super().__init__()
        self.perceptual_weight = perceptual_weight
        self.style_weight = style_weight
        # kept out of the module tree (a tuple, not a submodule) so the
        # frozen VGG16 never enters the model's checkpoints or optimisers
        self._vgg = ()
        if vgg_weights is None:
            print_log(
                'PerceptualStyleLoss: no vgg_weights given, training '
                'WITHOUT the perceptual and style losses',
                logger=MMLogger.get_current_instance(), level=30)
        else:
            self._vgg = (VGG16Features(vgg_weights), )

    @property
    def enabled(self) -> bool:
        """Whether the VGG16 weights were given (the terms are on)."""
        return bool(self._vgg)

    def _extractor(self, like: torch.Tensor) -> VGG16Features:
        vgg = self._vgg[0]
        p = next(vgg.parameters())
        if p.device != like.device or p.dtype != like.dtype:
            vgg.to(device=like.device, dtype=like.dtype)
        return vgg

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Return ``{'perceptual': ..., 'style': ...}`` (weighted), or an
        empty dict when disabled.

        Args:
            pred, target: (N, 3, H, W) normalised RGB.
            mask: (N, 1, H, W) hole mask.
        """
        if not self.enabled:
            return {}
        n = pred.shape[0]
        feats = self._extractor(pred)(torch.cat([pred * mask, target * mask]))
        prc = style = pred.new_zeros(())
        for f in feats:
            fp, ft = f[:n], f[n:].detach()
            prc = prc + F.l1_loss(fp, ft)
            style = style + F.l1_loss(gram_matrix(fp), gram_matrix(ft))
        return dict(perceptual=self.perceptual_weight * prc,
                    style=self.style_weight * style)


@MODELS.register_module()
class NSGANLoss(nn.Module):
    """Non-saturating GAN loss with BCE on discriminator probabilities.

    Discriminator: ``BCE(D(real), 1)`` and ``BCE(D(fake), 0)``;
    generator: ``loss_weight * BCE(D(fake), 1)``. ``loss_weight`` only
    applies to the generator side (``is_disc=False``).

    Args:
        loss_weight: Weight of the generator's adversarial term.
        from_logits: The discriminator outputs logits instead of
            probabilities.
    """

    def __init__(self, loss_weight: float = 1.0,
                 from_logits: bool = False) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.from_logits = from_logits

    def forward(self, pred: torch.Tensor, target_is_real: bool,
                is_disc: bool = False) -> torch.Tensor:
        target = torch.full_like(pred, 1.0 if target_is_real else 0.0)
        if self.from_logits:
            loss = F.binary_cross_entropy_with_logits(pred, target)
        else:
            loss = F.binary_cross_entropy(pred, target)
        return loss if is_disc else self.loss_weight * loss
