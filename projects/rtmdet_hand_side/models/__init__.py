"""Components of the hand-side RTMDet project, registered in mmdet's
registries (load with ``custom_imports``)."""
from .hand_side_dataset import SyntheticHandSideDataset
from .handedness_metric import HandednessMetric
from .transforms import RandomFlipHandSide

__all__ = [
    'HandednessMetric', 'RandomFlipHandSide', 'SyntheticHandSideDataset'
]
