
from .mirror_hand_crop import MirrorHandCrop  # noqa: F401
