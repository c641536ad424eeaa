from .formatting import PackHDRInputs, PackTDRInputs
from .hand_crop import GetHandBBox, WarpExtraKeys
from .cached_compose import CachedCompose
from .crop_both_hands import CropBothHands
from .hand_seg_transforms import LoadHandAmodalMasks, PackHandSegInputs
from .loading_aih import LoadAIHSample, syn_aug_matrix
from .loading_hdr_targets import LoadHDRTargets
from .loading_image import LoadCheckedImage
from .mask_algebra import TDRMaskAlgebra, target_side
from .mirror import MirrorToRight
from .mirror_hand_crop import MirrorHandCrop

__all__ = [
    'PackTDRInputs', 'GetHandBBox', 'WarpExtraKeys', 'LoadAIHSample',
    'syn_aug_matrix', 'TDRMaskAlgebra', 'target_side', 'MirrorToRight',
    'MirrorHandCrop', 'CropBothHands', 'LoadHandAmodalMasks',
    'PackHandSegInputs', 'LoadHDRTargets', 'PackHDRInputs',
    'LoadCheckedImage', 'CachedCompose'
]
