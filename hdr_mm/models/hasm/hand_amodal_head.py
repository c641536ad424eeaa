"""HASM's decode head: SegFormer's all-MLP decoder with four branches.

HDR (docs/method.md section 3) predicts four binary masks on the crop of both
hands, in this order::

    0: l_amodal   1: l_visible   2: r_amodal   3: r_visible

The per-level 1x1 projections (``convs``) are shared, as in mmseg's
:class:`~mmseg.models.decode_heads.SegformerHead`; after them every mask has
its own branch: a fusion 1x1 ConvModule over the concatenated levels and a
2-class (background / hand) 1x1 classifier.

The branch logits are returned stacked along the channel axis, branch ``k``
in channels ``2k`` and ``2k + 1``. Keeping a single tensor lets the rest of
mmseg's machinery (resizing in ``predict_by_feat``, whole/slide inference of
:class:`~mmseg.models.segmentors.EncoderDecoder`) work unchanged; use
:func:`split_branch_logits` to get one ``(N, 2, H, W)`` tensor per mask.
"""
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads import SegformerHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor

from hdr_mm.structures import HAND_MASK_NAMES
from ..utils.precision import to_fp32


def split_branch_logits(seg_logits: Tensor,
                        num_branches: int = 4) -> List[Tensor]:
    """Split stacked branch logits into one tensor per mask.

    Args:
        seg_logits: ``(N, 2 * num_branches, H, W)`` logits, or
            ``(2 * num_branches, H, W)`` for one image.
        num_branches: Number of masks.

    Returns:
        list[Tensor]: ``num_branches`` tensors of shape ``(N, 2, H, W)``
        (or ``(2, H, W)``), channel 0 background, channel 1 hand.
    """
    dim = seg_logits.dim() - 3
    if seg_logits.shape[dim] != 2 * num_branches:
        raise ValueError(
            f'expected {2 * num_branches} logit channels for {num_branches} '
            f'two-class branches, got shape {tuple(seg_logits.shape)}')
    return list(torch.split(seg_logits, 2, dim=dim))


@MODELS.register_module()
class HandAmodalSegformerHead(SegformerHead):
    """SegFormer head with one fusion conv and one classifier per mask.

    It reuses :class:`SegformerHead`'s per-level projections and input
    handling, and replaces its single ``fusion_conv``/``conv_seg`` by the
    ModuleLists ``fusion_convs`` and ``conv_segs`` (one entry per mask).
    The authors' mmseg 0.x head named them ``fusion_conv1..4`` and
    ``conv_seg1..4``; ``tools/model_converters/hasm_segformer2hdr_mm.py``
    renames their checkpoints.

    Args:
        mask_names: Name of each predicted binary mask, in branch order.
            Defaults to :data:`HAND_MASK_NAMES`.
        init_cfg: Initialisation; by default the classifiers get a normal
            init with std 0.01, as mmseg does for ``conv_seg``.
        **kwargs: Passed to :class:`SegformerHead` (``in_channels``,
            ``channels``, ``in_index``, ``norm_cfg``, ``loss_decode``,
            ``dropout_ratio``, ``align_corners``, ...). ``num_classes`` is
            fixed to 2 (background / hand) for every branch.

    Shapes:
        - inputs: 4 feature maps ``(N, C_i, H / s_i, W / s_i)``.
        - output of :meth:`forward`: ``(N, 2 * num_masks, H / 4, W / 4)``.
        - ``gt_sem_seg.data`` of each data sample: ``(num_masks, H, W)``
          with values 0/1 (255 = ignored, e.g. padding).
    """

    #: kept float32 by a bf16 inference preparation
    #: (:func:`hdr_mm.models.utils.prepare_for_inference`): the 2-class
    #: classifiers, whose arg-max gives the masks
    fp32_submodules = ('conv_segs', )

    def __init__(self,
                 mask_names: Sequence[str] = HAND_MASK_NAMES,
                 init_cfg: dict = dict(
                     type='Normal', std=0.01, override=dict(name='conv_segs')),
                 **kwargs) -> None:
        num_classes = kwargs.pop('num_classes', 2)
        if num_classes != 2:
            raise ValueError('HandAmodalSegformerHead predicts binary masks: '
                             f'num_classes must be 2, got {num_classes}')
        out_channels = kwargs.pop('out_channels', 2)
        if out_channels != 2:
            raise ValueError('out_channels must be 2 (two-class softmax per '
                             f'branch), got {out_channels}')
        if len(mask_names) == 0 or len(set(mask_names)) != len(mask_names):
            raise ValueError(f'mask_names must be unique and non-empty, got '
                             f'{mask_names}')
        super().__init__(
            num_classes=2, out_channels=2, init_cfg=init_cfg, **kwargs)
        self.mask_names = tuple(mask_names)
        num_inputs = len(self.in_channels)

        # One branch per mask replaces the parent's single fusion/classifier.
        del self.fusion_conv
        del self.conv_seg
        self.fusion_convs = nn.ModuleList(
            ConvModule(
                in_channels=self.channels * num_inputs,
                out_channels=self.channels,
                kernel_size=1,
                norm_cfg=self.norm_cfg) for _ in self.mask_names)
        self.conv_segs = nn.ModuleList(
            nn.Conv2d(self.channels, self.out_channels, kernel_size=1)
            for _ in self.mask_names)

    @property
    def num_masks(self) -> int:
        """Number of predicted masks (branches)."""
        return len(self.mask_names)

    def _fuse_levels(self, inputs: Sequence[Tensor]) -> Tensor:
        """Project every level to ``channels``, resize to the finest level
        and concatenate: ``(N, channels * num_levels, H / 4, W / 4)``."""
        inputs = self._transform_inputs(inputs)
        size = inputs[0].shape[2:]
        outs = [
            resize(
                conv(x),
                size=size,
                mode=self.interpolate_mode,
                align_corners=self.align_corners)
            for conv, x in zip(self.convs, inputs)
        ]
        return torch.cat(outs, dim=1)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Compute the logits of every branch.

        Args:
            inputs: The backbone's multi-level features.

        Returns:
            Tensor: ``(N, 2 * num_masks, H / 4, W / 4)``, branch ``k`` in
            channels ``2k`` (background) and ``2k + 1`` (hand).
        """
        fused = self._fuse_levels(inputs)
        logits = []
        for fusion_conv, conv_seg in zip(self.fusion_convs, self.conv_segs):
            feat = fusion_conv(fused)
            if self.dropout is not None:
                feat = self.dropout(feat)
            logits.append(conv_seg(feat))
        return torch.cat(logits, dim=1)

    def _stack_batch_gt(self, batch_data_samples: SampleList) -> Tensor:
        """Stack the ``(num_masks, H, W)`` targets into ``(N, num_masks, H,
        W)``, checking their channel count."""
        gts = [ds.gt_sem_seg.data for ds in batch_data_samples]
        for i, gt in enumerate(gts):
            if gt.dim() != 3 or gt.shape[0] != self.num_masks:
                path = batch_data_samples[i].metainfo.get('img_path', i)
                raise ValueError(
                    f'gt_sem_seg of sample {path} has shape '
                    f'{tuple(gt.shape)}; {type(self).__name__} expects '
                    f'({self.num_masks}, H, W) for masks {self.mask_names}')
        return torch.stack(gts, dim=0)

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Loss of every branch against its own binary target.

        Args:
            seg_logits: Output of :meth:`forward`.
            batch_data_samples: Data samples with ``gt_sem_seg`` of shape
                ``(num_masks, H, W)``.

        Returns:
            dict[str, Tensor]: for every loss in ``loss_decode`` and every
            mask ``m``, ``<loss_name>_<m>`` (e.g. ``loss_ce_l_amodal``), and
            the pixel accuracy ``acc_seg_<m>``.
        """
        seg_label = self._stack_batch_gt(batch_data_samples)
        # float32 softmax/Dice also when the forward ran under bf16 autocast
        seg_logits = resize(
            to_fp32(seg_logits),
            size=seg_label.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        losses_decode = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        losses = dict()
        for k, (name, logit) in enumerate(
                zip(self.mask_names,
                    split_branch_logits(seg_logits, self.num_masks))):
            label = seg_label[:, k].long()
            weight = None
            if self.sampler is not None:
                weight = self.sampler.sample(logit, label[:, None])
            for loss_decode in losses_decode:
                key = f'{loss_decode.loss_name}_{name}'
                value = loss_decode(
                    logit,
                    label,
                    weight=weight,
                    ignore_index=self.ignore_index)
                losses[key] = losses[key] + value if key in losses else value
            losses[f'acc_seg_{name}'] = accuracy(
                logit, label, ignore_index=self.ignore_index)
        return losses
