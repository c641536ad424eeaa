from .hand_joints import (INTERHAND_MIDDLE_MCP, INTERHAND_ROOT,
                          INTERHAND_TO_SHPE, LEFT_SLICE, NUM_HAND_JOINTS,
                          RIGHT_SLICE, SHPE_MIDDLE_MCP, SHPE_PARENTS,
                          SHPE_ROOT, SHPE_TO_INTERHAND)
from .hand_masks import stack_hand_masks, swap_rl_visible, tdr_masks

__all__ = [
    'INTERHAND_TO_SHPE', 'SHPE_TO_INTERHAND', 'SHPE_PARENTS', 'SHPE_ROOT',
    'SHPE_MIDDLE_MCP', 'INTERHAND_ROOT', 'INTERHAND_MIDDLE_MCP',
    'NUM_HAND_JOINTS', 'RIGHT_SLICE', 'LEFT_SLICE', 'tdr_masks',
    'stack_hand_masks', 'swap_rl_visible'
]
