"""The crop of both hands: HASM's training input and the HDR pipeline's
first step, from one transform.

HDR works on a square crop around both hands (their box enlarged x2,
warped to the network size, zero outside the image). HASM is trained on
exactly that crop and the pipeline feeds it exactly that crop, so both
use :class:`CropBothHands` (registered in mmseg's and mmpose's
registries). For the pipeline it also keeps the *context*: the part of
the image that each hand's own crop may reach (see
:func:`hdr_mm.structures.context_window`), so that the model can cut the
hand crops from the image itself, as the authors' demo does, and not
from the two-hand crop.
"""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS as POSE_TRANSFORMS
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS

from hdr_mm.structures import (HAND_MASK_NAMES, bbox_of_mask, bbox_of_points,
                               context_window, crop_warp_matrix,
                               square_crop_cs, union_bbox, warp_to_crop)


@SEG_TRANSFORMS.register_module()
@POSE_TRANSFORMS.register_module()
class CropBothHands(BaseTransform):
    """Warp the square crop around both hands to ``out_size`` x ``out_size``.

    The box of both hands is, first found of: ``bbox`` (mmpose's (N, 4)
    xyxy boxes, their union; what datasets, detectors and the inferencer
    give), the union of the amodal masks in ``gt_seg_map`` (HASM
    training), or the box of ``keypoints``. It is enlarged by
    ``box_scale`` (or by the sample's own ``hands_box_scale`` where it has
    one: the inferencer sets 1.0 when its box is the whole image, which
    bounds the hands but is not their box), made square and warped
    (:mod:`hdr_mm.structures.bbox`); what lies outside the image is 0.

    Training augmentation: the centre is shifted by up to ``shift_factor``
    x side and the side scaled by a factor drawn in ``[1 - scale_factor,
    1 + scale_factor]``.

    Required keys: ``img``, and one of ``bbox``, ``gt_seg_map`` (with
    ``mask_names``), ``keypoints``. Optional: ``hands_box_scale``.

    Modified keys: ``img`` and the ``seg_fields``, ``image_keys`` (bilinear)
    and ``mask_keys`` (nearest) present, all warped into the crop;
    ``img_shape`` and ``ori_shape`` (the crop is the network's whole
    input). Added keys: ``frame_shape`` (the image's (H, W)),
    ``crop_box`` (x1, y1, x2, y2 in image pixels), ``crop_matrix``
    (2x3 image -> crop), and mmpose's ``input_center``, ``input_scale``
    (the crop's centre and side in image pixels) and ``input_size``, so
    that mmpose maps crop pixels back to the image as for
    ``TopdownAffine``. With ``context_factor``: ``context_img`` (the
    window of ``img`` of :func:`~hdr_mm.structures.context_window`),
    ``context_origin`` (its top-left pixel (x0, y0) in the image), and
    ``context_<key>`` for each of ``context_keys``.

    Args:
        out_size: Side of the output crop in pixels.
        box_scale: Enlargement of the hands' box (2.0 in HDR).
        shift_factor: Maximum random centre shift, fraction of the side.
        scale_factor: Maximum random relative change of the side.
        image_keys: More images to warp like ``img`` (bilinear).
        mask_keys: More label maps to warp (nearest, values kept).
        context_factor: Keep the context window of side ``context_factor``
            x the crop side (2.0 holds every hand crop x2); None keeps
            none.
        context_keys: Frame-sized images cut like the context (e.g. the
            single-hand renders the stage metrics compare with).

    Raises:
        ValueError: nothing locates the hands (naming the image).
    """

    def __init__(self,
                 out_size: int = 256,
                 box_scale: float = 2.0,
                 shift_factor: float = 0.0,
                 scale_factor: float = 0.0,
                 image_keys: Sequence[str] = (),
                 mask_keys: Sequence[str] = (),
                 context_factor: Optional[float] = None,
                 context_keys: Sequence[str] = ()) -> None:
        if out_size <= 0 or box_scale <= 0:
            raise ValueError('CropBothHands: out_size and box_scale must be '
                             f'positive, got {out_size}, {box_scale}')
        if not 0 <= scale_factor < 1 or shift_factor < 0:
            raise ValueError('CropBothHands: need 0 <= scale_factor < 1 and '
                             f'shift_factor >= 0, got {scale_factor}, '
                             f'{shift_factor}')
        if context_factor is not None and context_factor < 1:
            raise ValueError('CropBothHands: context_factor must be >= 1 '
                             f'(or None), got {context_factor}')
        self.out_size = int(out_size)
        self.box_scale = float(box_scale)
        self.shift_factor = float(shift_factor)
        self.scale_factor = float(scale_factor)
        self.image_keys = tuple(image_keys)
        self.mask_keys = tuple(mask_keys)
        self.context_factor = context_factor
        self.context_keys = tuple(context_keys)

    def hands_box(self, results: dict) -> np.ndarray:
        """(4,) box ``x1, y1, x2, y2`` of both hands (see the class
        docstring for the sources)."""
        bbox = results.get('bbox')
        if bbox is not None and np.size(bbox):
            return union_bbox(np.asarray(bbox, np.float32).reshape(-1, 4))
        seg = results.get('gt_seg_map')
        if seg is not None:
            names = results.get('mask_names', HAND_MASK_NAMES)
            amodal = [i for i, n in enumerate(names) if n.endswith('_amodal')]
            seg = seg[..., None] if seg.ndim == 2 else seg
            box = bbox_of_mask((seg[..., amodal] if amodal else seg).any(-1))
            if box is not None:
                return box
        kpts = results.get('keypoints')
        if kpts is not None:
            box = bbox_of_points(
                np.asarray(kpts).reshape(-1, np.shape(kpts)[-1]),
                None if results.get('keypoints_visible') is None else
                np.asarray(results['keypoints_visible']).reshape(-1))
            if box is not None:
                return box
        raise ValueError(
            f"CropBothHands: no box, no hand pixel and no keypoint locates "
            f"the hands in {results.get('img_path', '<unknown image>')}")

    def transform(self, results: dict) -> dict:
        img = results['img']
        frame_shape = img.shape[:2]
        box_scale = float(results.get('hands_box_scale', self.box_scale))
        if not box_scale > 0:
            raise ValueError(
                'CropBothHands: hands_box_scale must be positive, got '
                f"{box_scale} for {results.get('img_path', '<unknown>')}")
        center, side = square_crop_cs(self.hands_box(results), box_scale)
        if self.scale_factor > 0:
            side *= np.random.uniform(1 - self.scale_factor,
                                      1 + self.scale_factor)
        if self.shift_factor > 0:
            center = center + np.random.uniform(
                -1, 1, 2).astype(np.float32) * self.shift_factor * side
        size = self.out_size
        matrix = crop_warp_matrix(center, side, size)
        if self.context_factor is not None:
            x0, y0, x1, y1 = context_window(center, side, frame_shape,
                                            self.context_factor)
            results['context_img'] = np.ascontiguousarray(img[y0:y1, x0:x1])
            results['context_origin'] = np.array([x0, y0], np.float32)
            for key in self.context_keys:
                if key in results:
                    results[f'context_{key}'] = np.ascontiguousarray(
                        results[key][y0:y1, x0:x1])
        results['img'] = warp_to_crop(img, matrix, size)
        for key in self.image_keys:
            if key in results:
                results[key] = warp_to_crop(results[key], matrix, size)
        for key in tuple(results.get('seg_fields', ())) + self.mask_keys:
            if key in results:
                results[key] = warp_to_crop(results[key], matrix, size,
                                            'nearest')
        results['frame_shape'] = tuple(frame_shape)
        results['img_shape'] = (size, size)
        results['ori_shape'] = (size, size)
        results['crop_box'] = np.concatenate(
            [center - side / 2, center + side / 2]).astype(np.float32)
        results['crop_matrix'] = matrix.astype(np.float32)
        results['input_center'] = center.astype(np.float32)
        results['input_scale'] = np.array([side, side], np.float32)
        results['input_size'] = (size, size)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(out_size={self.out_size}, '
                f'box_scale={self.box_scale}, shift_factor='
                f'{self.shift_factor}, scale_factor={self.scale_factor}, '
                f'context_factor={self.context_factor})')
