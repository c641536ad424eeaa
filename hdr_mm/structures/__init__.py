from .bbox import (bbox_iou, bbox_of_mask, bbox_of_points, clip_bbox,
                   context_window, crop_to_image, crop_warp_matrix, mirror_x,
                   mirror_x_matrix, square_crop_cs, union_bbox, warp_to_crop)
from .camera import (DEFAULT_FOCAL_FACTOR, default_camera,
                     rotate_about_root_ray, solve_root_translation,
                     solve_two_roots)
from .hand_joints import (HANDS, INTERHAND_MIDDLE_MCP, INTERHAND_PALM_CENTRE,
                          INTERHAND_ROOT, INTERHAND_TO_SHPE, LEFT_SLICE,
                          NUM_HAND_JOINTS, RIGHT_SLICE, SHPE_MIDDLE_MCP,
                          SHPE_PARENTS, SHPE_ROOT, SHPE_TO_INTERHAND,
                          palm_centre)
from .hand_masks import (HAND_MASK_NAMES, TDR_MASK_NAMES, drop_duplicate_hand,
                         hidden_fractions, stack_hand_masks, swap_rl_visible,
                         tdr_masks)

__all__ = [
    'HANDS', 'INTERHAND_TO_SHPE', 'SHPE_TO_INTERHAND', 'SHPE_PARENTS',
    'SHPE_ROOT', 'SHPE_MIDDLE_MCP', 'INTERHAND_ROOT', 'INTERHAND_MIDDLE_MCP',
    'INTERHAND_PALM_CENTRE', 'palm_centre', 'NUM_HAND_JOINTS', 'RIGHT_SLICE',
    'LEFT_SLICE', 'HAND_MASK_NAMES',
    'TDR_MASK_NAMES', 'tdr_masks', 'stack_hand_masks', 'swap_rl_visible',
    'drop_duplicate_hand', 'hidden_fractions',
    'bbox_of_mask', 'bbox_of_points', 'bbox_iou', 'union_bbox', 'clip_bbox',
    'mirror_x', 'mirror_x_matrix', 'square_crop_cs', 'crop_warp_matrix',
    'crop_to_image', 'warp_to_crop', 'context_window', 'DEFAULT_FOCAL_FACTOR',
    'default_camera', 'solve_root_translation', 'solve_two_roots',
    'rotate_about_root_ray'
]
