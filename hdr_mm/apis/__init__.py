from .hdr_inferencer import (HDRInferencer, clip_box, keypoints_box,
                             read_image, union_box)

__all__ = [
    'HDRInferencer', 'clip_box', 'keypoints_box', 'read_image', 'union_box'
]
