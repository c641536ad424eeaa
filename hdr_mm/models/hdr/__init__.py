"""The top-level HDR model: composes the three stages."""
from .data_preprocessor import HDRDataPreprocessor
from .hdr_pose_estimator import HandCrops, HDRPoseEstimator
from .shpe_input import SHPE_INPUTS, resolve_shpe_input
from .stage_builder import (StageCheckpointError, build_stage,
                            combine_stage_checkpoints, stage_input_size)

__all__ = [
    'HDRPoseEstimator', 'HDRDataPreprocessor', 'HandCrops', 'build_stage',
    'StageCheckpointError', 'combine_stage_checkpoints', 'stage_input_size',
    'SHPE_INPUTS', 'resolve_shpe_input'
]
