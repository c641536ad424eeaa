from .checkpoint import (CheckpointKeyError, check_keys, convert_state_dict,
                         load_reference_state_dict, save_mmengine_checkpoint)
from .version_check import check_stack_versions

__all__ = [
    'check_stack_versions', 'CheckpointKeyError', 'check_keys',
    'convert_state_dict', 'load_reference_state_dict',
    'save_mmengine_checkpoint'
]
