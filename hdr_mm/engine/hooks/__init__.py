from .keep_until_saved_checkpoint_hook import KeepUntilSavedCheckpointHook
from .nan_loss_guard_hook import NaNLossGuardHook, NonFiniteLossError
from .tdr_visualization_hook import TDRVisualizationHook, tdr_panel

__all__ = [
    'NaNLossGuardHook', 'NonFiniteLossError', 'TDRVisualizationHook',
    'tdr_panel', 'KeepUntilSavedCheckpointHook'
]
