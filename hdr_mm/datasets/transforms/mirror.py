"""Mirror left-hand samples so that every stage sees a right hand."""
from typing import Dict, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from hdr_mm.structures import hand_masks, mirror_x


@TRANSFORMS.register_module()
class MirrorToRight(BaseTransform):
    """Mirror a left-target sample horizontally into a right-target one.

    When ``hand_type`` is ``'left'`` and the sample is not mirrored yet
    (``flip`` False): images and masks are flipped left-right, the
    ``r_amodal``/``l_amodal`` masks exchange names, ``rl_visible`` labels
    1 and 2 are swapped (:func:`hdr_mm.structures.swap_rl_visible`) and
    keypoints ``x`` become ``W - 1 - x``
    (:func:`hdr_mm.structures.mirror_x`: pixel centres at integers, as
    ``cv2.flip``). ``flip`` is set True; ``hand_type`` keeps the original
    side so that results can be mirrored back.

    Args:
        image_keys: Colour images to flip.
        mask_keys: Masks to flip (besides the three AIH masks, which are
            also renamed/relabelled when present).
    """

    def __init__(self,
                 image_keys: Sequence[str] = ('img', 'gt_img'),
                 mask_keys: Sequence[str] = ()) -> None:
        self.image_keys = tuple(image_keys)
        self.mask_keys = tuple(mask_keys)

    def transform(self, results: Dict) -> Dict:
        results.setdefault('flip', False)
        if results['hand_type'] != 'left' or results['flip']:
            return results
        for k in self.image_keys + self.mask_keys + ('r_amodal', 'l_amodal',
                                                     'rl_visible'):
            if k in results:
                results[k] = np.ascontiguousarray(results[k][:, ::-1])
        if 'r_amodal' in results and 'l_amodal' in results:
            results['r_amodal'], results['l_amodal'] = (results['l_amodal'],
                                                        results['r_amodal'])
        if 'rl_visible' in results:
            results['rl_visible'] = hand_masks.swap_rl_visible(
                results['rl_visible']).astype(np.uint8)
        if results.get('keypoints') is not None:
            results['keypoints'] = mirror_x(results['keypoints'],
                                            results['img'].shape[1])
        results['flip'] = True
        results['flip_direction'] = 'horizontal'
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(image_keys={self.image_keys}, '
                f'mask_keys={self.mask_keys})')
