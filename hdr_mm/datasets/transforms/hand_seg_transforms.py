"""Transforms that build HASM's four binary targets on the both-hand crop.

Pipeline (see ``configs/hasm``)::

    LoadCheckedImage             results['img'] (H, W, 3) BGR uint8
    mmseg.LoadHandAmodalMasks    results['gt_seg_map'] (H, W, 4) uint8 0/1
    mmseg.CropBothHands          square crop around both hands, out_size^2
    mmseg.PackHandSegInputs      inputs (3, S, S), gt_sem_seg (4, S, S)

The target channels follow ``mask_names``, by default
``[l_amodal, l_visible, r_amodal, r_visible]`` (HDR_SPEC section 1).
"""
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from hdr_mm.models.hasm.hand_amodal_head import HAND_MASK_NAMES
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
class CropBothHands(BaseTransform):
    """Warp the square crop around both hands to ``out_size`` x ``out_size``.

    HDR_SPEC section 1: the box of both hands (here the union of the amodal
    masks, or of ``keypoints`` when the masks are empty) is enlarged by
    ``box_scale``, made square around its centre and warped to the output
    size. Parts of the crop outside the image are filled with 0, the same
    result as padding the image first.

    Training augmentation: the centre is shifted by up to
    ``shift_factor`` x side and the side scaled by a factor drawn in
    ``[1 - scale_factor, 1 + scale_factor]``.

    Required keys: ``img``, ``gt_seg_map`` ``(H, W, C)`` and
    ``mask_names`` (from :class:`LoadHandAmodalMasks`); optional
    ``keypoints`` ``(K, 2)`` or ``(1, K, 2)``.

    Modified keys: ``img``, ``gt_seg_map``, ``img_shape``, ``ori_shape``
    (both set to the crop size). Added keys: ``frame_shape`` (the frame's
    (H, W)),
    ``crop_box`` (x1, y1, x2, y2 in the original image), ``crop_matrix``
    (2x3 affine, original -> crop).

    Args:
        out_size: Side of the output crop in pixels.
        box_scale: Enlargement of the hands' box.
        shift_factor: Maximum random centre shift, fraction of the side.
        scale_factor: Maximum random relative change of the side.

    Raises:
        ValueError: the image is smaller than ``out_size`` on a side, or
            neither masks nor keypoints locate a hand (messages name the
            image).
    """

    def __init__(self,
                 out_size: int = 256,
                 box_scale: float = 2.0,
                 shift_factor: float = 0.0,
                 scale_factor: float = 0.0) -> None:
        if out_size <= 0 or box_scale <= 0:
            raise ValueError('out_size and box_scale must be positive')
        if not 0 <= scale_factor < 1 or shift_factor < 0:
            raise ValueError('need 0 <= scale_factor < 1, shift_factor >= 0')
        self.out_size = int(out_size)
        self.box_scale = float(box_scale)
        self.shift_factor = float(shift_factor)
        self.scale_factor = float(scale_factor)

    def _hands_box(self, results: dict) -> np.ndarray:
        """Box (x1, y1, x2, y2) of all hand pixels, or of the keypoints."""
        names = results.get('mask_names', HAND_MASK_NAMES)
        amodal = [i for i, n in enumerate(names) if n.endswith('_amodal')]
        seg = results['gt_seg_map']
        fg = (seg[..., amodal] if amodal else seg).any(axis=-1)
        ys, xs = np.nonzero(fg)
        if xs.size:
            return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                            dtype=np.float64)
        kpts = results.get('keypoints')
        if kpts is not None:
            kpts = np.asarray(kpts, dtype=np.float64).reshape(-1, 2)
            vis = results.get('keypoints_visible')
            if vis is not None:
                kpts = kpts[np.asarray(vis).reshape(-1) > 0]
            if len(kpts):
                return np.concatenate([kpts.min(0), kpts.max(0)])
        raise ValueError(
            f"CropBothHands: no hand pixel in the masks of "
            f"{results.get('img_path', '<unknown image>')} and no keypoints "
            'to locate the hands')

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        if h < self.out_size or w < self.out_size:
            raise ValueError(
                f"image {results.get('img_path', '<unknown image>')} is "
                f'{w}x{h}, smaller than the {self.out_size}x{self.out_size} '
                'crop')
        x1, y1, x2, y2 = self._hands_box(results)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        side = max(x2 - x1, y2 - y1, 1.0) * self.box_scale
        if self.scale_factor > 0:
            side *= np.random.uniform(1 - self.scale_factor,
                                      1 + self.scale_factor)
        if self.shift_factor > 0:
            cx += np.random.uniform(-1, 1) * self.shift_factor * side
            cy += np.random.uniform(-1, 1) * self.shift_factor * side
        s = self.out_size / side
        matrix = np.array([[s, 0, self.out_size / 2 - s * cx],
                           [0, s, self.out_size / 2 - s * cy]])
        size = (self.out_size, self.out_size)
        results['img'] = cv2.warpAffine(
            img, matrix, size, flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        for key in results.get('seg_fields', []):
            seg = results[key]
            warped = cv2.warpAffine(
                seg, matrix, size, flags=cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            if seg.ndim == 3 and warped.ndim == 2:  # cv2 drops a 1-channel
                warped = warped[..., None]
            results[key] = warped
        # The crop is the network's whole input, so its size is the
        # "original" size predictions are resized to; the frame's size is
        # kept as frame_shape.
        results['frame_shape'] = (h, w)
        results['img_shape'] = size
        results['ori_shape'] = size
        results['crop_box'] = np.array(
            [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2],
            dtype=np.float32)
        results['crop_matrix'] = matrix.astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(out_size={self.out_size}, '
                f'box_scale={self.box_scale}, shift_factor='
                f'{self.shift_factor}, scale_factor={self.scale_factor})')


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
