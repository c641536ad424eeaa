from .tdr_metric import TDRMetric, region_scores, ssim_map

__all__ = ['TDRMetric', 'region_scores', 'ssim_map']
