"""Per-joint spatial softmax cross-entropy on heat map logits.

An alternative to DetNet's sigmoid + squared L2 for the SHPE's heat maps
(:class:`~hdr_mm.models.shpe.DetNetHead` with
``heatmap_activation='softmax'``). Each joint's map is one categorical
distribution over the H x W cells; the target is the ground-truth Gaussian
normalised to sum 1. A sigmoid + L2 loss on a target that covers a few
cells of a 32 x 32 map is dominated by the flat background: its gradient
on the joint's cells is small and the maps stay flat for hundreds of
iterations. Cross-entropy always gives the true cell a gradient of
``p - 1``, so joints are found from the first iterations.

mmpose's ``KLDiscretLoss`` computes the same divergence for SimCC's 1D
vectors, but it averages over the bins (scaling the loss with 1 / (H W)),
sums over the batch instead of averaging, and normalises its labels with
a temperature softmax instead of dividing by their sum; hence this small
loss.
"""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mmpose.registry import MODELS


@MODELS.register_module()
class HeatmapCrossEntropyLoss(nn.Module):
    """Cross-entropy between each joint's softmax over its map and the
    normalised target heat map, averaged over valid joints.

    ``loss = loss_weight * sum_{b,k} w_bk * CE(softmax(logits_bk), t_bk /
    sum(t_bk)) / max(sum_{b,k} w_bk, 1)``

    A joint whose target map is all zero (outside the crop) has no
    distribution to match: it contributes nothing whatever its weight.

    Args:
        loss_weight: Multiplier of the loss.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self,
                logits: Tensor,
                target: Tensor,
                joint_weights: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            logits: (B, K, H, W) heat map logits (before any activation).
            target: (B, K, H, W) non-negative target maps (e.g. Gaussians
                with peak 1); each is normalised to sum 1 here.
            joint_weights: (B, K) validity weights (default all 1).

        Returns:
            Tensor: scalar loss.
        """
        if logits.dim() != 4 or target.shape != logits.shape:
            raise ValueError(
                'HeatmapCrossEntropyLoss expects (B, K, H, W) logits and a '
                f'target of the same shape, got {tuple(logits.shape)} and '
                f'{tuple(target.shape)}')
        log_p = torch.log_softmax(logits.flatten(2).float(), dim=-1)
        t = target.flatten(2).to(log_p.dtype)
        mass = t.sum(-1)  # (B, K)
        t = t / mass.clamp(min=1e-12)[..., None]
        per_joint = -(t * log_p).sum(-1)
        w = torch.ones_like(per_joint) if joint_weights is None else \
            joint_weights.to(per_joint.dtype)
        if w.shape != per_joint.shape:
            raise ValueError(
                f'HeatmapCrossEntropyLoss: joint_weights {tuple(w.shape)} do '
                f'not match maps {tuple(logits.shape[:2])}')
        w = w * (mass > 0)
        return self.loss_weight * (per_joint * w).sum() / w.sum().clamp(
            min=1.0)
