"""Pack TDR samples into model inputs and data samples."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement
from mmpose.registry import TRANSFORMS


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
