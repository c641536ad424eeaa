from .hand_seg_metric import HandAmodalIoU, hand_mask_counts

__all__ = ['HandAmodalIoU', 'hand_mask_counts']
