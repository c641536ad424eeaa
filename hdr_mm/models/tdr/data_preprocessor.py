"""Batching and normalisation of TDR samples."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor

from mmpose.registry import MODELS
from .composition import check_hand_masks


@MODELS.register_module()
class TDRDataPreprocessor(BaseDataPreprocessor):
    """Stack and normalise what ``PackTDRInputs`` hands over.

    Input (see ``docs/data_layout.md``): ``inputs`` a list of uint8
    (3, H, W) BGR crops (or a stacked (N, 3, H, W) tensor), and data
    samples with ``gt_img`` (3, H, W) uint8 BGR (optional at test time)
    and ``hand_masks`` (4, H, W) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.

    Output, the ``inputs`` argument of :class:`TDR`'s ``forward``: a dict
    with ``img`` (N, 3, H, W) float normalised RGB, ``hand_masks``
    (N, 4, H, W) float, and ``gt_img`` (N, 3, H, W) normalised RGB when
    every sample has one. ImageNet mean/std by default (docs/method.md
    section 2).

    Args:
        mean: Per-channel mean in RGB order, 0-255 scale.
        std: Per-channel std in RGB order, 0-255 scale.
        bgr_to_rgb: Inputs are BGR and must be flipped to RGB.
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 bgr_to_rgb: bool = True) -> None:
        super().__init__()
        self.bgr_to_rgb = bgr_to_rgb
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1),
                             False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1),
                             False)

    def normalize(self, img: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) 0-255 input order -> normalised RGB float."""
        img = img.float()
        if self.bgr_to_rgb:
            img = img.flip(1)
        return (img - self.mean) / self.std

    def denormalize(self, x: torch.Tensor,
                    as_float: bool = False) -> torch.Tensor:
        """Normalised RGB float -> (N, 3, H, W) image in input order.

        Args:
            x: (N, 3, H, W) normalised RGB.
            as_float: Return float values clamped to [0, 255] (not
                rounded) instead of uint8.
        """
        img = (x.float() * self.std + self.mean).clamp(0, 255)
        if self.bgr_to_rgb:
            img = img.flip(1)
        return img if as_float else img.round().to(torch.uint8)

    @staticmethod
    def _stack(items: Union[torch.Tensor, List[torch.Tensor]],
               what: str) -> torch.Tensor:
        if isinstance(items, torch.Tensor):
            return items
        shapes = {tuple(t.shape) for t in items}
        if len(shapes) != 1:
            raise ValueError(f'TDRDataPreprocessor: {what} of one batch '
                             f'must share a shape, got {sorted(shapes)}')
        return torch.stack(list(items))

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        samples: Optional[list] = data.get('data_samples')
        img = self._stack(data['inputs'], 'inputs')
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError('TDRDataPreprocessor: inputs must be (3, H, W) '
                             f'images, got a batch of {tuple(img.shape)}')
        if not samples:
            raise ValueError('TDRDataPreprocessor: data_samples with '
                             'hand_masks are required')
        for i, s in enumerate(samples):
            if 'hand_masks' not in s:
                path = s.metainfo.get('img_path', f'sample {i}')
                raise KeyError(f'{path}: data sample has no hand_masks '
                               '(expected (4, H, W) [A_t, V_t, A_o, V_o])')
        masks = self._stack([s.hand_masks for s in samples], 'hand_masks')
        check_hand_masks(masks, img)
        inputs = dict(img=self.normalize(img), hand_masks=masks.float())
        if all('gt_img' in s for s in samples):
            gt = self._stack([s.gt_img for s in samples], 'gt_img')
            if gt.shape != img.shape:
                raise ValueError(f'gt_img batch {tuple(gt.shape)} does not '
                                 f'match inputs {tuple(img.shape)}')
            inputs['gt_img'] = self.normalize(gt)
        elif training:
            raise KeyError('TDRDataPreprocessor: training needs gt_img in '
                           'every data sample')
        return dict(inputs=inputs, data_samples=samples)
