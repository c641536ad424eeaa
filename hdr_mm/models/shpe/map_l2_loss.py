"""Squared L2 loss on dense per-joint maps, masked by joint validity.

The DetNet losses (docs/method.md section 3) are a squared L2 on heat maps
and squared L2 on delta/location maps *multiplied by the ground-truth heat
map* (so only the neighbourhood of the joint is supervised). mmpose's
``KeypointMSELoss`` averages over pixels and has no per-pixel weighting of
a multi-channel map, so one small loss covers the three terms here.
"""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mmpose.registry import MODELS


@MODELS.register_module()
class MapL2Loss(nn.Module):
    """Per-joint sum of squared errors over a map, averaged over valid joints.

    ``loss = loss_weight * sum_{b,k} w_bk * sum_{c,h,w} (m_bkhw *
    (pred - target)_bkchw)^2 / max(sum_{b,k} w_bk, 1)``

    A crop whose joints are all invalid contributes nothing; a batch with
    no valid joint gives an exact zero that still carries a gradient path
    (so distributed training does not hang on unused parameters).

    Args:
        loss_weight: Multiplier of the loss.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self,
                pred: Tensor,
                target: Tensor,
                joint_weights: Optional[Tensor] = None,
                map_weights: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred: (B, K, C, H, W) predicted maps.
            target: Broadcastable to ``pred``, e.g. (B, K, C, H, W) or
                (B, K, C, 1, 1) for maps constant over the image.
            joint_weights: (B, K) validity weights (default all 1).
            map_weights: Broadcastable to ``pred``, e.g. the ground-truth
                heat maps (B, K, 1, H, W); default none.

        Returns:
            Tensor: scalar loss.
        """
        if pred.dim() != 5:
            raise ValueError(
                f'MapL2Loss expects (B, K, C, H, W) maps, got {pred.shape}')
        diff = pred - target
        if map_weights is not None:
            diff = diff * map_weights
        per_joint = diff.pow(2).flatten(2).sum(-1)  # (B, K)
        if joint_weights is None:
            joint_weights = torch.ones_like(per_joint)
        joint_weights = joint_weights.to(per_joint.dtype)
        if joint_weights.shape != per_joint.shape:
            raise ValueError(f'MapL2Loss: joint_weights {joint_weights.shape}'
                             f' do not match maps {tuple(pred.shape[:2])}')
        total = (per_joint * joint_weights).sum()
        return self.loss_weight * total / joint_weights.sum().clamp(min=1.0)
