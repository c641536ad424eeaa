"""Functions behind the metrics and the reports."""
from .bootstrap import bootstrap_gain, bootstrap_mean
from .per_frame import (SPLITS, frame_is_interacting, split_masks,
                        write_per_frame)

__all__ = [
    'bootstrap_mean', 'bootstrap_gain', 'frame_is_interacting',
    'split_masks', 'write_per_frame', 'SPLITS'
]
