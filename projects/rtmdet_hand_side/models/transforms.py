"""A flip that keeps hand-side labels right."""
from typing import Sequence, Tuple

from mmdet.datasets.transforms import RandomFlip
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomFlipHandSide(RandomFlip):
    """mmdet's ``RandomFlip`` that also swaps the right/left labels.

    A mirror image of a right hand is a left hand: a horizontal or a
    vertical flip changes every hand's side, a diagonal flip (both, i.e.
    a 180 degree rotation) does not. mmdet's ``RandomFlip`` moves the
    boxes but keeps their labels, which would teach a hand-side detector
    the wrong side on half of the flipped images.

    Args:
        swap_labels: Pairs of labels exchanged by a mirroring flip;
            default ``((0, 1), )``: ``right`` <-> ``left``.
        **kwargs: :class:`mmdet.datasets.transforms.RandomFlip` arguments
            (``prob``, ``direction``).
    """

    def __init__(self,
                 swap_labels: Sequence[Tuple[int, int]] = ((0, 1), ),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        mapping = {}
        for a, b in swap_labels:
            if a in mapping or b in mapping:
                raise ValueError(f'swap_labels: label in two pairs: '
                                 f'{swap_labels}')
            mapping[a], mapping[b] = b, a
        self.swap_labels = mapping

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        if results.get('flip_direction') == 'diagonal':
            return
        labels = results.get('gt_bboxes_labels')
        if labels is not None and len(labels):
            swapped = labels.copy()
            for a, b in self.swap_labels.items():
                swapped[labels == a] = b
            results['gt_bboxes_labels'] = swapped.astype(labels.dtype)

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', swap_labels={self.swap_labels})')
