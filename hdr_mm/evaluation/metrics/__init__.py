"""Metrics (registered in mmpose's ``METRICS``; ``HandAmodalIoU`` in
mmseg's)."""
from .hand_2d_metric import Hand2DMetric
from .hand_mpjpe_metric import HandMPJPEMetric
from .hand_seg_metric import HandAmodalIoU, hand_mask_counts, iou_from_counts
from .hdr_stage_metric import HDRStageMetric
from .shpe_input_metric import SHPEInputMetric
from .tdr_metric import (TDRMetric, region_scores, scores_in_regions,
                         ssim_map)

__all__ = [
    'Hand2DMetric', 'HandMPJPEMetric', 'HandAmodalIoU', 'hand_mask_counts',
    'iou_from_counts', 'HDRStageMetric', 'SHPEInputMetric', 'TDRMetric',
    'region_scores', 'scores_in_regions', 'ssim_map'
]
