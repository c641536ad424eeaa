"""Transforms that build HASM's four binary targets on the both-hand crop.

Pipeline (see ``configs/hasm``)::

    LoadCheckedImage             results['img'] (H, W, 3) BGR uint8
    mmseg.LoadHandAmodalMasks    results['gt_seg_map'] (H, W, 4) uint8 0/1
    mmseg.CropBothHands          square crop around both hands, out_size^2
                                 (crop_both_hands.py, shared with HDR)
    mmseg.PackHandSegInputs      inputs (3, S, S), gt_sem_seg (4, S, S)

The target channels follow ``mask_names``, by default
``[l_amodal, l_visible, r_amodal, r_visible]`` (docs/method.md section 1).
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from hdr_mm.structures import HAND_MASK_NAMES
from hdr_mm.structures.hand_masks import stack_hand_masks
from ..image_io import check_same_size, read_mask


@TRANSFORMS.register_module()
class LoadHandAmodalMasks(BaseTransform):
    """Load the three mask files of a frame as the binary HASM targets.

    ``l_amodal``/``r_amodal`` PNGs must hold 0/1, ``rl_visible`` 0
    (background), 1 (right visible) or 2 (left visible). The visible masks
    are ``l_visible = rl_visible == 2`` and ``r_visible = rl_visible == 1``.

    Required keys: ``mask_paths`` (``{l_amodal, r_amodal, rl_visible}`` ->
    path, from :class:`HandAmodalSegDataset`); ``img`` if present is used
    to check the mask size.

    Added keys: ``gt_seg_map`` ``(H, W, num_masks)`` uint8 0/1 in
    ``mask_names`` order, ``mask_names``; ``'gt_seg_map'`` is appended to
    ``seg_fields``.

    Args:
        mask_names: Output channel order; each of ``l_amodal``,
            ``l_visible``, ``r_amodal``, ``r_visible``.
        backend_args: mmengine file backend arguments.
    """

    def __init__(self,
                 mask_names: Sequence[str] = HAND_MASK_NAMES,
                 backend_args: Optional[dict] = None) -> None:
        unknown = set(mask_names) - set(HAND_MASK_NAMES)
        if unknown or not mask_names:
            raise ValueError(f'mask_names must be taken from '
                             f'{HAND_MASK_NAMES}, got {list(mask_names)}')
        self.mask_names = tuple(mask_names)
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        paths = results.get('mask_paths')
        if not isinstance(paths, dict):
            raise KeyError(
                f"LoadHandAmodalMasks needs 'mask_paths' in the results of "
                f"{results.get('img_path', '<unknown image>')}")
        for key in ('l_amodal', 'r_amodal', 'rl_visible'):
            if key not in paths:
                raise KeyError(f"'mask_paths' of "
                               f"{results.get('img_path')} lacks {key!r}")
        l_amodal = read_mask(paths['l_amodal'], (0, 1), self.backend_args)
        r_amodal = read_mask(paths['r_amodal'], (0, 1), self.backend_args)
        rl_visible = read_mask(paths['rl_visible'], (0, 1, 2),
                               self.backend_args)
        masks = [(paths['l_amodal'], l_amodal), (paths['r_amodal'], r_amodal),
                 (paths['rl_visible'], rl_visible)]
        if 'img' in results:
            check_same_size((results.get('img_path'), results['img']),
                            *masks)
        else:
            check_same_size(*masks)
        results['gt_seg_map'] = stack_hand_masks(
            r_amodal, l_amodal, rl_visible, self.mask_names)
        results['mask_names'] = self.mask_names
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(mask_names={self.mask_names})'


@TRANSFORMS.register_module()
class PackHandSegInputs(PackSegInputs):
    """mmseg's :class:`PackSegInputs` for multi-mask targets.

    ``PackSegInputs`` packs a 2-D label map; HASM's ``gt_seg_map`` is
    ``(H, W, num_masks)``, so it is taken out, packed as ``gt_sem_seg``
    ``PixelData`` of shape ``(num_masks, H, W)`` (int64), and the rest is
    left to the parent. ``mask_names``, ``crop_box``, ``crop_matrix`` and
    ``frame_shape`` are added to the default meta keys.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = (
                     'img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                     'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                     'reduce_zero_label', 'mask_names', 'crop_box',
                     'crop_matrix', 'frame_shape')) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        seg = results.pop('gt_seg_map', None)
        packed = super().transform(results)
        if seg is not None:
            if seg.ndim == 2:
                seg = seg[..., None]
            data = np.ascontiguousarray(seg.transpose(2, 0, 1))
            packed['data_samples'].gt_sem_seg = PixelData(
                data=torch.from_numpy(data.astype(np.int64)))
        return packed
