from .hand_seg_transforms import (CropBothHands, LoadHandAmodalMasks,
                                  PackHandSegInputs)

__all__ = ['CropBothHands', 'LoadHandAmodalMasks', 'PackHandSegInputs']
