"""SHPE: the DetNet-style single-hand 3D pose estimator of HDR."""
from .detnet_head import DetNetHead
from .detnet_resnet import DetNetResNet
from .heatmap_ce_loss import HeatmapCrossEntropyLoss
from .map_l2_loss import MapL2Loss
from .single_hand_pose_estimator import SingleHandPoseEstimator

__all__ = [
    'DetNetResNet', 'DetNetHead', 'HeatmapCrossEntropyLoss', 'MapL2Loss',
    'SingleHandPoseEstimator'
]
