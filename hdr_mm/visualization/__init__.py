from .hdr_hand_visualizer import (HDRHandVisualizer, draw_hand_3d,
                                  figure_to_rgb, hand_links,
                                  masks_over_image)

__all__ = [
    'HDRHandVisualizer', 'draw_hand_3d', 'figure_to_rgb', 'hand_links',
    'masks_over_image'
]
