"""DetNet-style head of the SHPE: heat, delta and location maps.

docs/method.md section 3: the trunk's 256-channel map gets two coordinate
channels (x then y, linearly spaced in [-1, 1]); three branches, each a
3x3 conv + BN + ReLU then a 1x1 conv, predict

- heat maps (K, sigmoid; or a softmax over each map, see
  ``heatmap_activation``) from the 258 channels,
- delta maps (K x 3) from the 258 channels + the heat maps,
- location maps (K x 3) from those + the delta maps (channel ``3k + c``
  is coordinate ``c`` of joint ``k``).
"""
from typing import Tuple

import numpy as np
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.structures import InstanceData
from torch import Tensor

from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import (ConfigType, Features, OptConfigType,
                                 OptSampleList, Predictions)

from hdr_mm.structures import SHPE_ROOT
from ..utils import coordinate_channels
from ..utils.precision import to_fp32


class MapBranch(nn.Module):
    """conv 3x3 (no bias) + BN + ReLU, then a 1x1 conv with bias.

    Args:
        in_channels: Input channels.
        mid_channels: Channels of the 3x3 conv.
        out_channels: Predicted channels.
    """

    def __init__(self, in_channels: int, mid_channels: int,
                 out_channels: int) -> None:
        super().__init__()
        self.project = ConvModule(
            in_channels,
            mid_channels,
            3,
            padding=1,
            bias=False,
            norm_cfg=dict(type='BN'),
            act_cfg=dict(type='ReLU'))
        self.predict = nn.Conv2d(mid_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(B, in, H, W) -> (B, out, H, W)."""
        return self.predict(self.project(x))


@MODELS.register_module()
class DetNetHead(BaseHead):
    """Heat/delta/location map head of the DetNet-style SHPE.

    Outputs are read by :class:`~hdr_mm.codecs.DetNetHandCodec`.

    Predictions (``predict``), per data sample, an ``InstanceData`` with:

    - ``keypoints`` (1, K, 2): 2D joints in the network input's pixels;
      :class:`~hdr_mm.models.shpe.SingleHandPoseEstimator` un-mirrors
      those of mirrored crops and maps them to image pixels.
    - ``keypoint_scores`` (1, K): heat map maxima.
    - ``keypoints_3d_norm`` (1, K, 3): the network's joints relative to
      its wrist (the location maps read at the wrist are subtracted, so
      the wrist is exactly 0), in units of the wrist-to-middle-MCP
      length, in the (mirrored, right-hand) crop frame.
    - ``keypoints_3d`` (1, K, 3): root-relative joints in mm in the
      crop's camera frame (the estimator negates x back for mirrored
      crops).
    - ``bone_length_mm`` (1,): the scale used for ``keypoints_3d``.

    **Scale recovery (mm).** The network only knows shape, not size.
    ``test_cfg['bone_length']`` chooses the wrist-to-middle-MCP length:
    ``'gt'`` (the paper's protocol) takes the ground-truth length from each
    sample's ``gt_instance_labels.ref_bone_length`` and falls back to
    ``test_cfg['bone_length_mm']`` where the annotation lacks it; a number
    uses that constant for every hand (inference without annotation).
    Joints are in SHPE order; ``joints[..., SHPE_TO_INTERHAND, :]``
    (:mod:`hdr_mm.structures.hand_joints`) gives InterHand2.6M order.

    Args:
        in_channels: Channels of the trunk's map.
        num_joints: K.
        mid_channels: Channels of each branch's 3x3 conv.
        heatmap_loss: Loss on heat maps.
        delta_loss: Loss on delta maps (weighted by the GT heat map).
        location_loss: Loss on location maps (weighted by the GT heat map).
        decoder: The codec (``DetNetHandCodec``) config.
        heatmap_activation: ``'sigmoid'`` (DetNet: each cell in [0, 1],
            trained with ``heatmap_loss`` on the sigmoid output) or
            ``'softmax'`` (each joint's map is a distribution over its
            cells; ``heatmap_loss`` gets the logits, e.g.
            :class:`HeatmapCrossEntropyLoss`). With ``'softmax'`` the delta
            branch sees each map divided by its maximum (peak 1, like a
            sigmoid map) and detached (the 3D losses do not move the heat
            maps: PCK@0.2 0.31 instead of 0.21 after 150 iterations of the
            small synthetic config), and the decoder should use
            ``heatmap_type='softmax'``.
        init_cfg: Initialisation.
    """

    #: kept float32 by a bf16 inference preparation
    #: (:func:`hdr_mm.models.utils.prepare_for_inference`): the 1x1
    #: predictors whose maps are arg-maxed and read out
    fp32_submodules = ('heatmap_branch.predict', 'delta_branch.predict',
                       'location_branch.predict')

    def __init__(self,
                 in_channels: int = 256,
                 num_joints: int = 21,
                 mid_channels: int = 256,
                 heatmap_loss: ConfigType = dict(
                     type='MapL2Loss', loss_weight=1.0),
                 delta_loss: ConfigType = dict(
                     type='MapL2Loss', loss_weight=1.0),
                 location_loss: ConfigType = dict(
                     type='MapL2Loss', loss_weight=5.0),
                 decoder: OptConfigType = None,
                 heatmap_activation: str = 'sigmoid',
                 init_cfg: OptConfigType = [
                     dict(type='Normal', layer=['Conv2d'], std=0.001),
                     dict(type='Constant', layer='BatchNorm2d', val=1)
                 ]) -> None:
        super().__init__(init_cfg)
        if heatmap_activation not in ('sigmoid', 'softmax'):
            raise ValueError("DetNetHead: heatmap_activation must be "
                             f"'sigmoid' or 'softmax', got "
                             f'{heatmap_activation!r}')
        self.heatmap_activation = heatmap_activation
        self.in_channels = in_channels
        self.num_joints = num_joints
        K = num_joints
        c = in_channels + 2
        self.heatmap_branch = MapBranch(c, mid_channels, K)
        self.delta_branch = MapBranch(c + K, mid_channels, 3 * K)
        self.location_branch = MapBranch(c + 4 * K, mid_channels, 3 * K)
        self.heatmap_loss = MODELS.build(heatmap_loss)
        self.delta_loss = MODELS.build(delta_loss)
        self.location_loss = MODELS.build(location_loss)
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder else None

    def forward(self, feats: Tuple[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """Predict the three maps.

        Args:
            feats: Trunk outputs; the last one, (B, in_channels, H, W), is
                used.

        Returns:
            tuple:
            - heatmaps (Tensor): (B, K, H, W) in [0, 1] (sigmoid), or
              per-joint distributions summing to 1 (softmax)
            - delta_maps (Tensor): (B, K, 3, H, W)
            - location_maps (Tensor): (B, K, 3, H, W)
        """
        return self._forward_maps(feats)[1:]

    def _forward_maps(self, feats: Tuple[Tensor]
                      ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """:meth:`forward` with the heat map logits first (for the loss)."""
        x = feats[-1]
        if x.shape[1] != self.in_channels:
            raise ValueError(f'DetNetHead expects {self.in_channels} input '
                             f'channels, got {x.shape[1]}')
        if self.decoder is not None and tuple(
                x.shape[-1:-3:-1]) != self.decoder.heatmap_size:
            W, H = self.decoder.heatmap_size
            s = self.decoder.stride
            raise ValueError(
                f'DetNetHead: feature map {x.shape[-1]}x{x.shape[-2]} does '
                f'not match the codec heatmap_size {W}x{H}: the network '
                f'input must be {W * s}x{H * s} (codec input_size '
                f'{self.decoder.input_size}); check input_size in the '
                'config (TopdownAffine and codec)')
        B, _, H, W = x.shape
        K = self.num_joints
        x = torch.cat([x, coordinate_channels(x)], dim=1)
        logits = self.heatmap_branch(x)
        if self.heatmap_activation == 'sigmoid':
            heatmaps = logits.sigmoid()
            heat_in = heatmaps
        else:
            heatmaps = logits.flatten(2).softmax(-1).view_as(logits)
            # detached: the delta/location losses (five times the heat map
            # loss and on another scale) would otherwise pull the maps
            # away from the joints
            heat_in = (heatmaps / heatmaps.amax((2, 3), keepdim=True)).detach()
        x = torch.cat([x, heat_in], dim=1)
        delta = self.delta_branch(x)
        x = torch.cat([x, delta], dim=1)
        location = self.location_branch(x)
        return (logits, heatmaps, delta.view(B, K, 3, H, W),
                location.view(B, K, 3, H, W))

    def loss(self,
             feats: Tuple[Tensor],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Heat map, delta and location losses, masked by joint validity.

        Args:
            feats: Trunk outputs.
            batch_data_samples: Samples with ``gt_fields.heatmaps`` and the
                ``gt_instance_labels`` written by ``DetNetHandCodec``.
            train_cfg: Unused.

        Returns:
            dict: ``loss_heatmap``, ``loss_delta``, ``loss_location`` and
            ``acc_pose`` (PCK@0.05 of the heat maps, for logging).
        """
        # the losses (and the accuracy's numpy) in float32 also when the
        # forward ran under bf16 autocast (CPUAmpOptimWrapper)
        logits, hm, dm, lm = (to_fp32(t) for t in self._forward_maps(feats))

        def labels(name: str) -> Tensor:
            return torch.cat([
                d.gt_instance_labels.get(name) for d in batch_data_samples
            ]).to(hm.device)

        gt_hm = torch.stack(
            [d.gt_fields.heatmaps for d in batch_data_samples]).to(hm)
        kw = labels('keypoint_weights')
        map_w = gt_hm.unsqueeze(2)
        if self.heatmap_activation == 'sigmoid':
            loss_heatmap = self.heatmap_loss(
                hm.unsqueeze(2), map_w, joint_weights=kw)
        else:
            loss_heatmap = self.heatmap_loss(logits, gt_hm, joint_weights=kw)
        losses = dict(
            loss_heatmap=loss_heatmap,
            loss_delta=self.delta_loss(
                dm,
                labels('delta_targets')[..., None, None],
                joint_weights=labels('delta_weights'),
                map_weights=map_w),
            loss_location=self.location_loss(
                lm,
                labels('location_targets')[..., None, None],
                joint_weights=labels('location_weights'),
                map_weights=map_w))
        _, avg_acc, _ = pose_pck_accuracy(
            output=to_numpy(hm),
            target=to_numpy(gt_hm),
            mask=to_numpy(kw) > 0)
        losses['acc_pose'] = torch.tensor(avg_acc, device=hm.device)
        return losses

    def predict(self,
                feats: Features,
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Predictions:
        """Decode joints; see the class docstring for the outputs.

        Args:
            feats: Trunk outputs.
            batch_data_samples: Samples, optionally with
                ``gt_instance_labels.ref_bone_length``.
            test_cfg: ``bone_length`` (``'gt'`` or a number, default
                ``'gt'``), ``bone_length_mm`` (fallback constant, default
                95.0). Flip test is not supported.

        Returns:
            list[InstanceData]: one per sample.
        """
        if test_cfg.get('flip_test', False):
            raise ValueError('DetNetHead does not support flip_test: the '
                             'crops are already mirrored to right hands')
        if self.decoder is None:
            raise RuntimeError('DetNetHead.predict needs a decoder (codec)')
        return self.decode_maps(self.forward(feats), batch_data_samples,
                                test_cfg)

    def decode_maps(self,
                    maps: Tuple[Tensor, Tensor, Tensor],
                    batch_data_samples: OptSampleList,
                    test_cfg: ConfigType = {}) -> Predictions:
        """Read the joints out of maps computed elsewhere.

        The second half of :meth:`predict`, for maps that another backend
        (e.g. onnxruntime, :mod:`hdr_mm.deploy`) or a reduced precision
        computed; maps of any floating dtype are read in float32.

        Args:
            maps: ``(heatmaps (B, K, H, W), delta (B, K, 3, H, W),
                location (B, K, 3, H, W))`` as :meth:`forward` returns
                them (tensors or numpy arrays).
            batch_data_samples: As :meth:`predict`.
            test_cfg: As :meth:`predict`.

        Returns:
            list[InstanceData]: one per sample, see the class docstring.
        """
        if self.decoder is None:
            raise RuntimeError('DetNetHead.decode_maps needs a decoder '
                               '(codec)')
        mode = test_cfg.get('bone_length', 'gt')
        default_mm = float(test_cfg.get('bone_length_mm', 95.0))
        if mode != 'gt' and not isinstance(mode, (int, float)):
            raise ValueError("test_cfg['bone_length'] must be 'gt' or a "
                             f'number of mm, got {mode!r}')
        hm, dm, lm = (np.asarray(to_numpy(to_fp32(t)), dtype=np.float32)
                      for t in maps)
        preds = []
        for i, sample in enumerate(batch_data_samples):
            kpts, scores, xyz, _ = self.decoder.decode((hm[i], dm[i], lm[i]))
            # the location maps predict the wrist too: make the joints
            # exactly relative to it
            xyz = xyz - xyz[:, SHPE_ROOT:SHPE_ROOT + 1]
            xyz_norm = xyz.copy()
            if mode == 'gt':
                ref = sample.get('gt_instance_labels', InstanceData()).get(
                    'ref_bone_length', None)
                ref = float(to_numpy(ref).reshape(-1)[0]) if ref is not None \
                    else 0.0
                bone = ref if ref > 0 else default_mm
            else:
                bone = float(mode)
            xyz = xyz * bone
            preds.append(
                InstanceData(
                    keypoints=kpts,
                    keypoint_scores=scores,
                    keypoints_3d=xyz,
                    keypoints_3d_norm=xyz_norm,
                    bone_length_mm=np.array([bone], dtype=np.float32)))
        return preds
