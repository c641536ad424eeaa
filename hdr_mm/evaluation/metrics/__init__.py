
"""Metrics (registered in mmpose's ``METRICS``)."""
from .hand_mpjpe_metric import HandMPJPEMetric

__all__ = ['HandMPJPEMetric']
