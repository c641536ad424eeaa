from . import transforms  # noqa: F401
from .single_hand3d_dataset import SingleHand3DDataset  # noqa: F401
