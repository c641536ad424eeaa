from .atomic_file import (UnwritableFolderError, atomic_write, check_target,
                          ensure_writable_folder, remove_stale_parts)
from .checkpoint import (CheckpointKeyError, check_keys, convert_state_dict,
                         load_reference_state_dict, save_mmengine_checkpoint)
from .checkpoint_loading import (SAFE_CHECKPOINT_GLOBALS, UNSAFE_HELP,
                                 UnsafeCheckpointError, checkpoint_loading,
                                 load_local_checkpoint)
from .machine import CPU_ISA_FLAGS, cpu_info, cpu_line
from .model_weights import (CheckpointMismatchError, check_weights_fit,
                            load_weights)
from .user_files import ConfigFileError, read_config, require_file
from .version_check import check_stack_versions

__all__ = [
    'atomic_write', 'check_stack_versions', 'check_target',
    'check_weights_fit', 'checkpoint_loading', 'CheckpointKeyError',
    'CheckpointMismatchError', 'ConfigFileError', 'check_keys',
    'convert_state_dict', 'CPU_ISA_FLAGS', 'cpu_info', 'cpu_line',
    'ensure_writable_folder', 'load_local_checkpoint',
    'load_reference_state_dict', 'load_weights', 'read_config',
    'remove_stale_parts', 'require_file', 'SAFE_CHECKPOINT_GLOBALS',
    'save_mmengine_checkpoint', 'UNSAFE_HELP', 'UnsafeCheckpointError',
    'UnwritableFolderError'
]
