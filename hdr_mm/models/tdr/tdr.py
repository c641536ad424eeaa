"""TDR: transformer de-occlusion and removal, trained as a GAN.

The model owns the generator (:class:`PConvUNet`), the discriminator
(:class:`InpaintDiscriminator`, optional) and the losses. ``train_step``
follows the pattern of mmagic's ``BaseGAN``: an ``OptimWrapperDict``
with ``generator`` and ``discriminator`` wrappers, each network's forward
inside its wrapper's ``optim_context``, the discriminator updated first
on the detached output, then the generator with the discriminator's
parameters frozen.
"""
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmengine.structures import BaseDataElement
from torch import nn

from mmpose.registry import MODELS
from hdr_mm.structures import tdr_masks
from ..utils import StageEntryMixin
from .composition import build_tdr_inputs, check_hand_masks, compose

ConfigType = Union[dict, None]


@MODELS.register_module()
class TDR(StageEntryMixin, BaseModel):
    """De-occlusion and removal network of HDR (docs/method.md sections 2-3).

    Its inference entry is :meth:`inpaint`; only the generator runs there
    (:meth:`inference_module`).

    Args:
        generator: Config of the generator (``PConvUNet``).
        discriminator: Config of the discriminator; None trains the
            generator alone with the reconstruction losses.
        valid_loss: Masked L1 on ``K_t*K_o`` (paper weight 1).
        hole_loss: Masked L1, applied to the de-occlusion hole ``H_t``
            and the removal hole ``H_o`` separately (paper weight 6).
        tv_loss: Total variation of the composite (paper weight 0.1).
        perceptual_loss: ``PerceptualStyleLoss`` config (paper 0.1 and
            250, needs a local VGG16 file; ``vgg_weights=None`` turns it
            off).
        gan_loss: ``NSGANLoss`` config (paper generator weight 0.1).
        data_preprocessor: ``TDRDataPreprocessor`` config.
        test_cfg: ``dilate_kernel`` (int or None, default 9): size of the
            elliptical dilation of the repaint region at inference.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: ConfigType = None,
                 valid_loss: dict = dict(type='MaskedL1Loss',
                                         loss_weight=1.0),
                 hole_loss: dict = dict(type='MaskedL1Loss',
                                        loss_weight=6.0),
                 tv_loss: ConfigType = dict(type='TotalVariationLoss',
                                            loss_weight=0.1),
                 perceptual_loss: ConfigType = dict(
                     type='PerceptualStyleLoss', vgg_weights=None),
                 gan_loss: ConfigType = dict(type='NSGANLoss',
                                             loss_weight=0.1),
                 data_preprocessor: ConfigType = dict(
                     type='TDRDataPreprocessor'),
                 test_cfg: ConfigType = None,
                 init_cfg: ConfigType = None) -> None:
        super().__init__(data_preprocessor=MODELS.build(data_preprocessor),
                         init_cfg=init_cfg)
        self.generator = MODELS.build(generator)
        self.discriminator = (MODELS.build(discriminator)
                              if discriminator else None)
        self.valid_loss = MODELS.build(valid_loss)
        self.hole_loss = MODELS.build(hole_loss)
        self.tv_loss = MODELS.build(tv_loss) if tv_loss else None
        self.perceptual_loss = (MODELS.build(perceptual_loss)
                                if perceptual_loss else None)
        self.gan_loss = MODELS.build(gan_loss) if gan_loss else None
        if self.discriminator is not None and self.gan_loss is None:
            raise ValueError('TDR: a discriminator needs a gan_loss')
        test_cfg = dict(test_cfg or {})
        self.dilate_kernel = test_cfg.pop('dilate_kernel', 9)
        if test_cfg:
            raise KeyError(f'TDR: unknown test_cfg keys {sorted(test_cfg)}'
                           " (known: 'dilate_kernel')")

    # ------------------------------------------------------------------
    def _generate(self, inputs: dict
                  ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        x, m, masks = build_tdr_inputs(inputs['img'], inputs['hand_masks'])
        out, _ = self.generator(x, m)
        return out, masks

    def _disc_input(self, img: torch.Tensor,
                    masks: Dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([img, masks['modal_t'], masks['modal_o']], dim=1)

    def generator_losses(self, out: torch.Tensor, inputs: dict,
                         masks: Dict[str, torch.Tensor],
                         with_adv: bool = True) -> Dict[str, torch.Tensor]:
        """All weighted generator losses.

        Args:
            out: (N, 3, H, W) generator output (normalised RGB).
            inputs: Preprocessed inputs with ``img``, ``gt_img``.
            masks: :func:`tdr_masks` maps, (N, 1, H, W) each.
            with_adv: Add the adversarial term (needs a discriminator).

        Returns:
            dict: ``loss_*`` scalars.
        """
        if 'gt_img' not in inputs:
            raise KeyError('TDR losses need gt_img in the data samples')
        gt, img = inputs['gt_img'], inputs['img']
        keep = masks['keep_t'] * masks['keep_o']
        losses = dict(
            loss_valid=self.valid_loss(out, gt, keep),
            loss_hole_deocc=self.hole_loss(out, gt, masks['hidden_t']),
            loss_hole_removal=self.hole_loss(out, gt, masks['hidden_o']))
        if self.tv_loss is not None:
            losses['loss_tv'] = self.tv_loss(
                compose(out, img, masks['repaint']))
        if self.perceptual_loss is not None:
            for hole, key in (('deocc', 'hidden_t'),
                              ('removal', 'hidden_o')):
                for name, v in self.perceptual_loss(out, gt,
                                                    masks[key]).items():
                    losses[f'loss_{name}_{hole}'] = v
        if with_adv and self.discriminator is not None:
            fake = self.discriminator(self._disc_input(out, masks))
            losses['loss_adv'] = self.gan_loss(fake, True, is_disc=False)
        return losses

    def discriminator_losses(self, out: torch.Tensor, inputs: dict,
                             masks: Dict[str, torch.Tensor]
                             ) -> Dict[str, torch.Tensor]:
        """``loss_d_real`` and ``loss_d_fake`` (each half of the
        discriminator loss) on the ground truth and the detached output,
        in one batched discriminator call."""
        n = out.shape[0]
        both = torch.cat([
            self._disc_input(inputs['gt_img'], masks),
            self._disc_input(out.detach(), masks)
        ])
        pred = self.discriminator(both)
        return dict(
            loss_d_real=0.5 * self.gan_loss(pred[:n], True, is_disc=True),
            loss_d_fake=0.5 * self.gan_loss(pred[n:], False, is_disc=True))

    # ------------------------------------------------------------------
    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict
                   ) -> Dict[str, torch.Tensor]:
        """One GAN iteration: discriminator update, then generator update.

        Args:
            data: A batch from the dataloader.
            optim_wrapper: ``OptimWrapperDict`` with a ``generator`` and,
                when the model has a discriminator, a ``discriminator``
                wrapper.

        Returns:
            dict: log variables of both updates.
        """
        if not isinstance(optim_wrapper, OptimWrapperDict) or \
                'generator' not in optim_wrapper.keys():
            raise TypeError(
                'TDR.train_step needs an OptimWrapperDict with a '
                "'generator' (and 'discriminator') wrapper; set "
                "optim_wrapper=dict(constructor='MultiOptimWrapper"
                "Constructor', generator=..., discriminator=...)")
        data = self.data_preprocessor(data, True)
        inputs = data['inputs']
        g_wrapper = optim_wrapper['generator']
        with g_wrapper.optim_context(self.generator):
            out, masks = self._generate(inputs)
        log_vars = {}
        if self.discriminator is not None:
            if 'discriminator' not in optim_wrapper.keys():
                raise KeyError('TDR has a discriminator but the optimiser '
                               "config has no 'discriminator' wrapper")
            d_wrapper = optim_wrapper['discriminator']
            with d_wrapper.optim_context(self.discriminator):
                d_losses = self.discriminator_losses(out, inputs, masks)
            d_loss, d_log = self.parse_losses(d_losses)
            d_wrapper.update_params(d_loss)
            log_vars.update(d_log)
            log_vars['loss_disc'] = log_vars.pop('loss')
            self.discriminator.requires_grad_(False)
        try:
            with g_wrapper.optim_context(self.generator):
                g_losses = self.generator_losses(out, inputs, masks)
            g_loss, g_log = self.parse_losses(g_losses)
            g_wrapper.update_params(g_loss)
        finally:
            if self.discriminator is not None:
                self.discriminator.requires_grad_(True)
        log_vars.update(g_log)
        return log_vars

    def forward(self,
                inputs: dict,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """Run the model.

        Args:
            inputs: Output of :class:`TDRDataPreprocessor` (``img``,
                ``hand_masks`` and optionally ``gt_img``).
            data_samples: Data samples of the batch.
            mode: ``'tensor'``: raw generator output (N, 3, H, W),
                normalised RGB. ``'predict'``: data samples with
                ``pred_img`` (the composite, dilated repaint region) and
                ``pred_raw`` (the raw output), (3, H, W) uint8 in the
                input's channel order. ``'loss'``: generator losses.
        """
        if mode == 'tensor':
            return self._generate(inputs)[0]
        if mode == 'loss':
            out, masks = self._generate(inputs)
            return self.generator_losses(out, inputs, masks)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'TDR.forward: unknown mode {mode!r} (tensor, '
                         'predict, loss)')

    stage = 'tdr'

    def inference_module(self) -> nn.Module:
        """The generator: the only network :meth:`inpaint` runs.

        Returns:
            nn.Module: :attr:`generator`.
        """
        return self.generator

    @torch.no_grad()
    def inpaint(self,
                images: torch.Tensor,
                hand_masks: torch.Tensor,
                input_size: Optional[int] = None,
                network: Optional[Callable] = None) -> torch.Tensor:
        """De-occlusion and removal on a batch of hand crops of any size.

        The tensor-level inference of TDR for callers that hold image
        batches (the HDR pipeline). The generator runs at ``input_size``;
        its output is brought back to the crops' size and pasted inside
        the (dilated) repaint region there, so the pixels TDR does not
        repaint keep their full resolution and their exact values.

        Args:
            images: (M, 3, s, s) float 0-255 crops in the channel order of
                the data preprocessor's input (BGR here), target hand
                right (mirrored if it was a left hand).
            hand_masks: (M, 4, s, s) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.
            input_size: Side the generator runs at (its training size);
                None runs it at ``s``.
            network: Another implementation of the generator, ``(x,
                mask) -> (out, out_mask)`` (e.g. an onnxruntime runner,
                :mod:`hdr_mm.deploy`); None runs :attr:`generator`.

        Returns:
            torch.Tensor: (M, 3, s, s) float composite, 0-255 (not
            rounded), same channel order as ``images``.
        """
        pre = self.data_preprocessor
        check_hand_masks(hand_masks, images)
        size = images.shape[-1]
        img = pre.normalize(images)
        small_img, small_masks = img, hand_masks.float()
        if input_size is not None and input_size != size:
            small_img = F.interpolate(
                img, (input_size, input_size), mode='bilinear',
                align_corners=False, antialias=True)
            small_masks = F.interpolate(
                small_masks, (input_size, input_size), mode='nearest')
        x, m, _ = build_tdr_inputs(small_img, small_masks)
        out = (network or self.generator)(x, m)[0].float()
        if out.shape[-1] != size:
            out = F.interpolate(
                out, (size, size), mode='bilinear', align_corners=False)
        repaint = tdr_masks(*hand_masks.float().split(1, dim=1))['repaint']
        comp = compose(out, img, repaint, self.dilate_kernel)
        return pre.denormalize(comp, as_float=True)

    @torch.no_grad()
    def predict(self, inputs: dict,
                data_samples: Optional[List[BaseDataElement]] = None
                ) -> List[BaseDataElement]:
        """Composite result per sample (see :meth:`forward`)."""
        out, masks = self._generate(inputs)
        comp = compose(out, inputs['img'], masks['repaint'],
                       self.dilate_kernel)
        pre = self.data_preprocessor
        comp_u8, raw_u8 = pre.denormalize(comp), pre.denormalize(out)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(out.shape[0])]
        for i, s in enumerate(data_samples):
            s.pred_img = comp_u8[i]
            s.pred_raw = raw_u8[i]
        return data_samples
