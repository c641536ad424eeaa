"""HASM segmentor: mmseg's EncoderDecoder predicting four binary masks."""
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptSampleList
from torch import Tensor

from ..utils import StageEntryMixin
from .hand_amodal_head import split_branch_logits


@MODELS.register_module()
class HandAmodalSegmentor(StageEntryMixin, EncoderDecoder):
    """Encoder-decoder whose decode head predicts several binary masks.

    Training, feature extraction and whole/slide inference are mmseg's
    :class:`EncoderDecoder` unchanged; the decode head (normally
    :class:`HandAmodalSegformerHead`) returns ``2 * num_masks`` logit
    channels. Only the post-processing differs: every branch is argmax-ed on
    its own, so each data sample gets

    - ``seg_logits``: ``PixelData`` with ``(2 * num_masks, H, W)`` logits at
      the original image size,
    - ``pred_sem_seg``: ``PixelData`` with the ``(num_masks, H, W)`` binary
      masks (int64, 0/1), channel order ``decode_head.mask_names``,
    - metainfo ``mask_names``.

    With horizontal-flip test-time augmentation the image's left hand is the
    real right hand, so after un-flipping the logits the ``l_*`` and ``r_*``
    branches are exchanged (mask names must then come in ``l_``/``r_``
    pairs).

    Its inference entry for the HDR pipeline is :meth:`predict_masks`.

    Args: see :class:`mmseg.models.segmentors.EncoderDecoder`.
    """

    stage = 'hasm'

    def _init_decode_head(self, decode_head: ConfigType) -> None:
        super()._init_decode_head(decode_head)
        if not hasattr(self.decode_head, 'mask_names'):
            raise TypeError(
                f'{type(self).__name__} needs a decode head with '
                f"'mask_names' (e.g. HandAmodalSegformerHead), got "
                f'{type(self.decode_head).__name__}')
        # Slide inference sizes its buffers with out_channels.
        self.out_channels = 2 * self.decode_head.num_masks

    @property
    def mask_names(self) -> tuple:
        return self.decode_head.mask_names

    def _lr_swap_index(self) -> List[int]:
        """Logit channel order that exchanges every ``l_x`` and ``r_x``
        branch."""
        names = list(self.mask_names)
        index = []
        for name in names:
            side, _, rest = name.partition('_')
            other = {'l': 'r', 'r': 'l'}.get(side)
            if other is None or f'{other}_{rest}' not in names:
                raise ValueError(
                    f'cannot un-flip mask {name!r} horizontally: mask names '
                    f'must come in l_/r_ pairs, got {names}')
            k = names.index(f'{other}_{rest}')
            index += [2 * k, 2 * k + 1]
        return index

    def load_onnx(self, onnx_file: str,
                  num_threads: Optional[int] = None,
                  engine: str = 'onnxruntime',
                  precision: Optional[str] = None) -> Callable:
        """The exported network through a graph engine, as
        :meth:`predict_masks` takes it: an ``encode_decode``.

        Args:
            onnx_file: A file :meth:`export_onnx` wrote.
            num_threads: The engine's inference threads.
            engine: ``'onnxruntime'`` or ``'openvino'``.
            precision: None, ``'fp32'``, (OpenVINO) ``'bf16'`` or
                ``'int8'``.

        Returns:
            Callable: ``(inputs, batch_img_metas) -> logits`` at the input
            size (the segmentor runner's ``encode_decode``).
        """
        return super().load_onnx(onnx_file, num_threads, engine,
                                 precision).encode_decode

    @torch.no_grad()
    def predict_masks(self,
                      imgs: Tensor,
                      input_size: Optional[int] = None,
                      network: Optional[Callable] = None) -> Tensor:
        """The binary masks of a batch of crops, at the crops' size.

        The tensor-level inference of HASM for callers that hold image
        batches rather than data samples (the HDR pipeline): normalise
        with the model's own data preprocessor, run the network, bring
        the logits back to the crops' size and arg-max every branch.

        Args:
            imgs: (N, 3, S, S) float 0-255 crops in the channel order the
                model was trained on (BGR for the configs here).
            input_size: Side the network expects; the crops are resized
                to it first when it differs from ``S`` (None: as given).
            network: Another implementation of :meth:`encode_decode`
                (e.g. an onnxruntime runner, :mod:`hdr_mm.deploy`); None
                runs this model.

        Returns:
            Tensor: (N, num_masks, S, S) float masks in {0, 1}, channel
            order :attr:`mask_names`.
        """
        size = imgs.shape[-2:]
        x = imgs.float()
        if input_size is not None and tuple(size) != (input_size, ) * 2:
            x = F.interpolate(x, (input_size, input_size), mode='bilinear',
                              align_corners=False)
        x = self.data_preprocessor(dict(inputs=x), False)['inputs']
        shape = tuple(x.shape[-2:])
        metas = [dict(img_shape=shape, pad_shape=shape, ori_shape=shape)
                 ] * x.shape[0]
        logits = (network or self.encode_decode)(x, metas).float()
        if tuple(logits.shape[-2:]) != tuple(size):
            logits = F.interpolate(logits, size, mode='bilinear',
                                   align_corners=False)
        # each branch's arg-max over its (background, hand) pair, ties to
        # background as argmax has it; a comparison of the two channels,
        # not ``argmax(dim=2)``: torch's reduction over that size-2 middle
        # dimension is ~50x slower on CPU than the comparison
        return (logits[:, 1::2] > logits[:, 0::2]).float()

    def postprocess_result(self,
                           seg_logits: Tensor,
                           data_samples: OptSampleList = None) -> list:
        """Turn the stacked branch logits into per-mask predictions.

        Args:
            seg_logits: ``(N, 2 * num_masks, H, W)`` logits of the batch.
            data_samples: The batch's data samples (their metainfo gives
                padding, flip and original shape), or None.

        Returns:
            list[SegDataSample]: with ``seg_logits``, ``pred_sem_seg`` and
            metainfo ``mask_names`` as described in the class docstring.
        """
        # The parent removes padding, un-flips and resizes to ori_shape.
        data_samples = super().postprocess_result(seg_logits, data_samples)
        num_masks = len(self.mask_names)
        for data_sample in data_samples:
            logits = data_sample.seg_logits.data
            if (data_sample.metainfo.get('flip', False) and data_sample.
                    metainfo.get('flip_direction') == 'horizontal'):
                logits = logits[self._lr_swap_index()]
                data_sample.seg_logits = PixelData(data=logits)
            preds = torch.stack([
                branch.argmax(dim=0)
                for branch in split_branch_logits(logits, num_masks)
            ])
            data_sample.pred_sem_seg = PixelData(data=preds)
            data_sample.set_metainfo(dict(mask_names=self.mask_names))
        return data_samples


def unpack_hand_masks(data_sample,
                      field: str = 'pred_sem_seg') -> Dict[str, Tensor]:
    """Name the channels of a HASM data sample's mask field.

    Args:
        data_sample: A ``SegDataSample`` returned by
            :class:`HandAmodalSegmentor` (or packed by the HASM pipeline).
        field: ``'pred_sem_seg'`` or ``'gt_sem_seg'``.

    Returns:
        dict[str, Tensor]: mask name -> ``(H, W)`` mask.
    """
    names = data_sample.metainfo.get('mask_names')
    if names is None:
        raise KeyError("data sample has no 'mask_names' in its metainfo")
    masks = getattr(data_sample, field).data
    if masks.shape[0] != len(names):
        raise ValueError(f'{field} has {masks.shape[0]} channels but '
                         f'mask_names lists {len(names)}: {names}')
    return {name: masks[i] for i, name in enumerate(names)}
