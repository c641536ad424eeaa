"""Batching of HDR frames (two-hand crop + context window)."""
from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor
from mmpose.registry import MODELS
from torch import Tensor

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
        img = _batch(inputs['img'], 'two-hand crops', pad=False)
        context = _batch(inputs['context'], 'context windows', pad=True)
        if img.shape[-1] != img.shape[-2]:
            raise ValueError('HDRDataPreprocessor: two-hand crops must be '
                             f'square (3, S, S), got a batch of '
                             f'{tuple(img.shape)}')
        if len(img) != len(context):
            raise ValueError(f'HDRDataPreprocessor: {len(img)} two-hand '
                             f'crops but {len(context)} context windows')
        samples: Optional[list] = data.get('data_samples')
        return dict(
            inputs=dict(img=img.float(), context=context.float()),
            data_samples=samples)


def _batch(images: Union[Tensor, Sequence[Tensor]], what: str,
           pad: bool) -> Tensor:
    """One (N, 3, H, W) batch of a list of (3, h, w) images.

    Args:
        images: A stacked (N, 3, H, W) tensor, or a non-empty list of
            (3, h, w) tensors.
        what: Their name in error messages.
        pad: Pad them to the largest with zeros at the bottom and right
            (:func:`pad_stack`); otherwise they must all have one size.

    Returns:
        Tensor: (N, 3, H, W), float when padded, else the input's dtype.

    Raises:
        ValueError: no image, not 3 channels, or sizes that differ
            (``pad`` False).
    """
    shapes = ([tuple(images.shape[1:])] if isinstance(images, Tensor) else
              [tuple(i.shape) for i in images])
    if not shapes or any(len(s) != 3 or s[0] != 3 for s in shapes):
        raise ValueError(f'HDRDataPreprocessor: {what} must be (3, h, w) '
                         f'images, got shapes {shapes}')
    if isinstance(images, Tensor):
        return images
    if pad:
        return pad_stack([i.float() for i in images])
    if len(set(shapes)) > 1:
        raise ValueError(f'HDRDataPreprocessor: {what} of different sizes '
                         f'{sorted(set(shapes))} (CropBothHands gives them '
                         'one size)')
    return torch.stack(list(images))
