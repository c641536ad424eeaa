from . import transforms  # noqa: F401
from .aih_dataset import AIHDataset
from .hand_seg_dataset import HandAmodalSegDataset
from .single_hand3d_dataset import SingleHand3DDataset

__all__ = ['AIHDataset', 'HandAmodalSegDataset', 'SingleHand3DDataset']
