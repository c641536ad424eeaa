"""Keypoint codecs (registered in mmpose's ``KEYPOINT_CODECS``)."""
from .detnet_hand_codec import DetNetHandCodec

__all__ = ['DetNetHandCodec']
