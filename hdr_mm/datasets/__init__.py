from . import transforms  # noqa: F401
from .hand_seg_dataset import HandAmodalSegDataset  # noqa: F401
