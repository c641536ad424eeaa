"""Functions behind the metrics and the reports."""
from .bootstrap import bootstrap_gain, bootstrap_mean

__all__ = ['bootstrap_mean', 'bootstrap_gain']
