from .hand_detection import (DetectedHands, build_hand_detector,
                             detect_hands, select_hands)
from .hdr_inferencer import HDRInferencer
from .two_hand_box import two_hand_box

__all__ = [
    'HDRInferencer', 'DetectedHands', 'select_hands', 'detect_hands',
    'build_hand_detector', 'two_hand_box'
]
