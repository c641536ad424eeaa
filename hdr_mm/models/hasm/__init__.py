"""HASM: hand amodal segmentation (SegFormer on mmseg; docs/method.md
section 3).

Components register in mmseg's registries; configs refer to them as
``mmseg.HandAmodalSegmentor`` etc.
"""
from .checkpoint_conversion import convert_hasm_mmseg0x
from .coord_data_preprocessor import CoordSegDataPreProcessor
from .hand_amodal_head import (HAND_MASK_NAMES, HandAmodalSegformerHead,
                               split_branch_logits)
from .hand_amodal_segmentor import HandAmodalSegmentor, unpack_hand_masks

__all__ = [
    'HAND_MASK_NAMES', 'HandAmodalSegformerHead', 'HandAmodalSegmentor',
    'CoordSegDataPreProcessor',
    'convert_hasm_mmseg0x', 'split_branch_logits', 'unpack_hand_masks'
]
