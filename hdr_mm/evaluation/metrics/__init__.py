"""Metrics (registered in mmpose's ``METRICS``)."""
from .hand_mpjpe_metric import HandMPJPEMetric
from .tdr_metric import TDRMetric, region_scores, ssim_map

__all__ = ['HandMPJPEMetric', 'TDRMetric', 'region_scores', 'ssim_map']
