"""Procedural interacting-hand data with exact ground truth."""
from .aih_syn import write_aih_syn
from .generator import (GENERATOR_VERSION, camera, ensure_synthetic_hands,
                        generate_synthetic_hands, make_sample)
from .hand_model import hand_geometry, posed_hand, sample_hand_pose
from .scene import render_view, sample_scene

__all__ = [
    'GENERATOR_VERSION', 'camera', 'ensure_synthetic_hands',
    'generate_synthetic_hands', 'make_sample', 'hand_geometry', 'posed_hand', 'sample_hand_pose',
    'render_view', 'sample_scene',
    'write_aih_syn'
]
