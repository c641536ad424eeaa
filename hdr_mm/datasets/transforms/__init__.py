from .formatting import PackTDRInputs
from .hand_crop import GetHandBBox, WarpExtraKeys
from .loading_aih import LoadAIHSample, syn_aug_matrix
from .mask_algebra import TDRMaskAlgebra, target_side
from .mirror import MirrorToRight

__all__ = [
    'PackTDRInputs', 'GetHandBBox', 'WarpExtraKeys', 'LoadAIHSample',
    'syn_aug_matrix', 'TDRMaskAlgebra', 'target_side', 'MirrorToRight'
]
