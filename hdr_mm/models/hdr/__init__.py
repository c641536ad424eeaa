"""The top-level HDR model: composes the three stages."""
from hdr_mm.structures.hand_crops import HandCrops
from .data_preprocessor import HDRDataPreprocessor
from .hand_placement import (frame_camera, place_hands, place_two_hands,
                             reference_bone_lengths)
from .hdr_pose_estimator import HDRPoseEstimator
from .mask_input import MASK_INPUTS, MASK_SOURCES
from .runtime import STAGE_BACKENDS, StageRuntime, build_runtime
from .shpe_input import SHPE_FEEDS, SHPE_INPUTS, resolve_shpe_input
from .stage_builder import (StageCheckpointError, build_stage,
                            combine_stage_checkpoints, stage_input_size)

__all__ = [
    'HDRPoseEstimator', 'HDRDataPreprocessor', 'HandCrops', 'build_stage',
    'StageCheckpointError', 'combine_stage_checkpoints', 'stage_input_size',
    'SHPE_FEEDS', 'SHPE_INPUTS', 'resolve_shpe_input', 'STAGE_BACKENDS',
    'StageRuntime', 'build_runtime', 'frame_camera', 'place_hands',
    'place_two_hands', 'reference_bone_lengths', 'MASK_SOURCES',
    'MASK_INPUTS'
]
