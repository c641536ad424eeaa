"""Pack TDR samples and HDR frames into model inputs and data samples."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement, PixelData
from mmpose.datasets.transforms import PackPoseInputs
from mmpose.registry import TRANSFORMS

from hdr_mm.structures import HANDS


def _image_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) or (H, W) array -> (C, H, W) contiguous tensor."""
    if img.ndim == 2:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackTDRInputs(BaseTransform):
    """Pack a TDR sample (docs/data_layout.md).

    Output:
        - inputs (torch.Tensor): (3, H, W) uint8 BGR occluded image.
        - data_samples (BaseDataElement): ``gt_img`` (3, H, W) uint8 BGR,
          ``hand_masks`` (4, H, W) uint8 ``[A_t, V_t, A_o, V_o]`` and, when
          :class:`TDRMaskAlgebra` ran, one (1, H, W) uint8 field per TDR
          mask (``keep_t``, ``keep_o``, ``modal_t``, ``modal_o``,
          ``hidden_t``, ``hidden_o``, ``repaint``). Metainfo: ``meta_keys``
          present in the results.

    Args:
        meta_keys: Result keys copied into the metainfo.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'flip', 'hand_type',
                                             'sample_id', 'source',
                                             'img_shape', 'input_center',
                                             'input_scale')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict) -> Dict:
        for k in ('img', 'gt_img', 'hand_masks'):
            if k not in results:
                raise KeyError(f'PackTDRInputs needs {k!r} (run '
                               'LoadAIHSample and TDRMaskAlgebra first); '
                               f'sample {results.get("img_path")}')
        sample = BaseDataElement(
            metainfo={k: results[k]
                      for k in self.meta_keys if k in results})
        sample.gt_img = _image_tensor(results['gt_img'])
        sample.hand_masks = torch.from_numpy(
            np.ascontiguousarray(results['hand_masks']))
        for k, v in results.get('tdr_masks', {}).items():
            sample.set_field(torch.from_numpy(np.ascontiguousarray(v))[None],
                             k)
        return dict(inputs=_image_tensor(results['img']), data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class PackHDRInputs(PackPoseInputs):
    """Pack a frame for :class:`~hdr_mm.models.HDRPoseEstimator`.

    mmpose's ``PackPoseInputs`` packs the two-hand crop; the model also
    needs the context window that :class:`CropBothHands` (with
    ``context_factor``) cut from the frame, since each hand's crop is cut
    from the frame itself. ``inputs`` is therefore a dict:

    - ``img``: (3, S, S) uint8 two-hand crop (HASM's input);
    - ``context``: (3, h, w) uint8 context window, whose pixel (0, 0) is
      frame pixel ``context_origin`` (metainfo).

    When :class:`LoadHDRTargets` ran, the data sample also carries the
    ground truth of the intermediate stages: ``gt_fields.hand_masks``
    (4, S, S) uint8 on the two-hand crop and ``gt_alone_context``
    (6, h, w) uint8, each hand rendered alone (right BGR, then left BGR)
    in the context window; ``gt_alone_valid`` goes to the metainfo.

    Args:
        meta_keys: As ``PackPoseInputs``; the crop and context geometry
            (``input_center``, ``input_scale``, ``input_size``,
            ``context_origin``, ``frame_shape``) and ``gt_alone_valid``
            are always added.
        pack_transformed: As ``PackPoseInputs``.

    Raises:
        KeyError: the results have no ``context_img`` (naming the image).
    """

    GEOMETRY_KEYS = ('input_center', 'input_scale', 'input_size',
                     'context_origin', 'frame_shape', 'gt_alone_valid')

    def __init__(self,
                 meta_keys: Optional[Sequence[str]] = None,
                 pack_transformed: bool = False) -> None:
        meta_keys = tuple(meta_keys or PackPoseInputs().meta_keys)
        meta_keys += tuple(k for k in self.GEOMETRY_KEYS
                           if k not in meta_keys)
        super().__init__(
            meta_keys=meta_keys, pack_transformed=pack_transformed)

    def transform(self, results: Dict) -> Dict:
        if 'context_img' not in results:
            raise KeyError(
                f"PackHDRInputs: {results.get('img_path', 'the sample')} "
                'has no context_img; run CropBothHands(context_factor=2.0) '
                'before it (the model cuts each hand from that window)')
        packed = super().transform(results)
        packed['inputs'] = dict(
            img=packed['inputs'],
            context=_image_tensor(results['context_img']))
        if 'gt_hand_masks' not in results:
            return packed
        sample = packed['data_samples']
        fields = sample.get('gt_fields', PixelData())
        fields.hand_masks = _image_tensor(results['gt_hand_masks'])
        sample.gt_fields = fields
        sample.set_field(
            torch.cat([_image_tensor(results[f'context_gt_alone_{side}'])
                       for side in HANDS]), 'gt_alone_context')
        return packed
