from . import transforms  # noqa: F401
from .aih_dataset import AIHDataset
from .single_hand3d_dataset import SingleHand3DDataset

__all__ = ['AIHDataset', 'SingleHand3DDataset']
