"""Batching of HDR frames (two-hand crop + context window)."""
from typing import Optional

import torch
from mmengine.model import BaseDataPreprocessor

from mmpose.registry import MODELS
from hdr_mm.structures.bbox.batched_transforms import pad_stack


@MODELS.register_module()
class HDRDataPreprocessor(BaseDataPreprocessor):
    """Batch what :class:`~hdr_mm.datasets.transforms.PackHDRInputs`
    packs, without normalising (every stage normalises its own input).

    Input ``inputs``: a dict with lists (or stacked tensors) ``img`` of
    (3, S, S) two-hand crops and ``context`` of (3, h_i, w_i) context
    windows, uint8 BGR.

    Output ``inputs``: a dict with ``img`` (N, 3, S, S) float 0-255 and
    ``context`` (N, 3, H, W) float 0-255, each window padded with zeros at
    the bottom and right to the largest of the batch (so frames of any
    size mix in one batch, and a window's pixel coordinates are kept).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Stack the crops, pad-stack the context windows.

        Args:
            data: ``inputs`` (see the class docstring) and
                ``data_samples``.
            training: Unused (HDR is inference-only).

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if not isinstance(inputs, dict) or 'img' not in inputs or \
                'context' not in inputs:
            raise KeyError(
                'HDRDataPreprocessor: inputs must be a dict with the '
                "two-hand crops 'img' and the context windows 'context' "
                '(pack the frames with PackHDRInputs after '
                'CropBothHands(context_factor=2.0)); got '
                f'{type(inputs).__name__}'
                + (f' with keys {sorted(inputs)}'
                   if isinstance(inputs, dict) else ''))
        img, context = inputs['img'], inputs['context']
        img = img if isinstance(img, torch.Tensor) else torch.stack(img)
        if not isinstance(context, torch.Tensor):
            context = pad_stack([c.float() for c in context])
        if img.dim() != 4 or img.shape[1] != 3 or \
                img.shape[-1] != img.shape[-2]:
            raise ValueError('HDRDataPreprocessor: two-hand crops must be '
                             f'square (3, S, S), got a batch of '
                             f'{tuple(img.shape)}')
        samples: Optional[list] = data.get('data_samples')
        return dict(
            inputs=dict(img=img.float(), context=context.float()),
            data_samples=samples)
