from .hand_crops import (compose_affine, invert_affine, mask_boxes,
                         square_crop_affine, transform_points, warp_affine)
from .hdr_pose_estimator import HDRPoseEstimator
from .stage_builder import StageCheckpointError, build_stage

__all__ = [
    'HDRPoseEstimator', 'build_stage', 'StageCheckpointError', 'mask_boxes',
    'square_crop_affine', 'compose_affine', 'invert_affine',
    'transform_points', 'warp_affine'
]
