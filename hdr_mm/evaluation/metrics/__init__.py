"""Metrics (registered in mmpose's ``METRICS``)."""
from .hand_mpjpe_metric import HandMPJPEMetric
from .hand_seg_metric import HandAmodalIoU, hand_mask_counts
from .tdr_metric import TDRMetric, region_scores, ssim_map

__all__ = [
    'HandMPJPEMetric', 'HandAmodalIoU', 'hand_mask_counts', 'TDRMetric',
    'region_scores', 'ssim_map'
]
