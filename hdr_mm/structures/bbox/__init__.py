"""Box and crop geometry: numpy (:mod:`.transforms`) and batched torch
(:mod:`.batched_transforms`), with the same conventions."""
from . import batched_transforms
from .transforms import (bbox_iou, bbox_of_mask, bbox_of_points, clip_bbox,
                         context_window, crop_to_image, crop_warp_matrix,
                         mirror_x, mirror_x_matrix, square_crop_cs,
                         union_bbox, warp_to_crop)

__all__ = [
    'bbox_of_mask', 'bbox_of_points', 'bbox_iou', 'union_bbox', 'clip_bbox',
    'mirror_x', 'mirror_x_matrix', 'square_crop_cs', 'crop_warp_matrix',
    'crop_to_image', 'warp_to_crop', 'context_window', 'batched_transforms'
]
