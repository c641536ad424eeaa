from . import transforms  # noqa: F401
from .aih_dataset import AIHDataset
from .annotation_files import AnnotationFileError
from .checked_interhand3d_dataset import CheckedInterHand3DDataset
from .hand_seg_dataset import HandAmodalSegDataset
from .single_hand3d_dataset import SingleHand3DDataset

__all__ = [
    'AIHDataset', 'AnnotationFileError', 'CheckedInterHand3DDataset',
    'HandAmodalSegDataset', 'SingleHand3DDataset'
]
