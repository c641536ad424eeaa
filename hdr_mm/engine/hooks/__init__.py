from .channels_last_hook import ChannelsLastHook
from .keep_until_saved_checkpoint_hook import KeepUntilSavedCheckpointHook
from .malloc_trim_hook import MallocTrimHook
from .nan_loss_guard_hook import NaNLossGuardHook, NonFiniteLossError
from .stage_timing_hook import StageTimingHook
from .tdr_visualization_hook import TDRVisualizationHook, tdr_panel

__all__ = [
    'ChannelsLastHook', 'NaNLossGuardHook', 'NonFiniteLossError',
    'TDRVisualizationHook', 'tdr_panel', 'KeepUntilSavedCheckpointHook',
    'StageTimingHook', 'MallocTrimHook'
]
