"""Hand-centred crops that also carry masks.

The crop itself is mmpose's: :class:`GetHandBBox` sets ``bbox`` from a
mask or from joints, mmpose's ``GetBBoxCenterScale(padding=2.0)`` enlarges
it x2, ``TopdownAffine`` keeps the aspect ratio, warps ``img`` and the
keypoints (out-of-image areas are padded with zeros). :class:`WarpExtraKeys`
then applies the same warp to the other images and the masks. A typical
pipeline::

    dict(type='GetHandBBox', mask_key='r_amodal'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='TopdownAffine', input_size=(256, 256)),
    dict(type='WarpExtraKeys', image_keys=['gt_img'],
         mask_keys=['r_amodal', 'l_amodal', 'rl_visible']),
"""
from typing import Dict, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import get_warp_matrix

from hdr_mm.structures import bbox_of_mask, bbox_of_points, warp_to_crop


@TRANSFORMS.register_module()
class GetHandBBox(BaseTransform):
    """Set ``bbox`` to the tight box of a mask or of keypoints.

    Args:
        mask_key: Take the box of this mask (non-zero pixels), its exact
            extent (:func:`hdr_mm.structures.bbox_of_mask`).
        keypoint_indices: Otherwise take the box of these keypoints of
            instance 0 (all if None), only those with
            ``keypoints_visible > 0`` when that key exists.

    Added keys: ``bbox`` (1, 4) float32 xyxy and ``bbox_score`` (1,).

    Raises:
        ValueError: an empty mask or no visible keypoint (naming
        ``img_path``).
    """

    def __init__(self,
                 mask_key: Optional[str] = None,
                 keypoint_indices: Optional[Sequence[int]] = None) -> None:
        self.mask_key = mask_key
        self.keypoint_indices = (None if keypoint_indices is None else
                                 list(keypoint_indices))

    def transform(self, results: Dict) -> Dict:
        where = results.get('img_path', '<unknown image>')
        if self.mask_key is not None:
            box = bbox_of_mask(results[self.mask_key])
            if box is None:
                raise ValueError(f'{self.mask_key} of {where} is empty: no '
                                 'box to crop around')
        else:
            kpt = np.asarray(results['keypoints'])[0]
            vis = np.ones(len(kpt), bool)
            if results.get('keypoints_visible') is not None:
                vis = np.asarray(results['keypoints_visible'])[0] > 0
            if self.keypoint_indices is not None:
                sel = np.zeros(len(kpt), bool)
                sel[self.keypoint_indices] = True
                vis &= sel
            box = bbox_of_points(kpt, vis)
            if box is None:
                raise ValueError(f'no visible keypoint to crop around in '
                                 f'{where}')
        results['bbox'] = box.astype(np.float32)[None]
        results['bbox_score'] = np.ones(1, dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mask_key={self.mask_key}, '
                f'keypoint_indices={self.keypoint_indices})')


@TRANSFORMS.register_module()
class WarpExtraKeys(BaseTransform):
    """Apply the warp of mmpose's ``TopdownAffine`` to more keys.

    Rebuilds the matrix from ``input_center``, ``input_scale``,
    ``input_size`` (and ``bbox_rotation``) that ``TopdownAffine`` left in
    the results, with the same ``get_warp_matrix``.

    Args:
        image_keys: Colour images, bilinear.
        mask_keys: Label maps, nearest neighbour (values are kept).

    Raises:
        ValueError: the warped keys do not all have the same size (naming
        ``img_path``).
    """

    def __init__(self,
                 image_keys: Sequence[str] = ('gt_img', ),
                 mask_keys: Sequence[str] = ('r_amodal', 'l_amodal',
                                             'rl_visible')) -> None:
        self.image_keys = tuple(image_keys)
        self.mask_keys = tuple(mask_keys)

    def transform(self, results: Dict) -> Dict:
        w, h = results['input_size']
        rot = 0.
        if 'bbox_rotation' in results:
            rot = float(results['bbox_rotation'][0])
        mat = get_warp_matrix(
            np.asarray(results['input_center'], np.float32),
            np.asarray(results['input_scale'], np.float32), rot,
            output_size=(w, h))
        shapes = {}
        for keys, interp in ((self.image_keys, 'bilinear'),
                             (self.mask_keys, 'nearest')):
            for k in keys:
                if k not in results:
                    continue
                shapes[k] = results[k].shape[:2]
                results[k] = warp_to_crop(results[k], mat, (w, h), interp)
        if len(set(shapes.values())) > 1:
            raise ValueError(
                f'cannot warp keys of different sizes together for '
                f'{results.get("img_path")}: {shapes}')
        results['img_shape'] = (int(h), int(w))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(image_keys={self.image_keys}, '
                f'mask_keys={self.mask_keys})')
