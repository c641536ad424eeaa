"""HDR: the full interacting-hand pipeline as one mmpose model.

Per image (already cropped around both hands by the data pipeline, as
mmpose's top-down models receive it):

1. **HASM** segments the crop into left/right amodal and visible masks.
2. Each hand gets its own crop: the box of its amodal mask, square and
   enlarged x2 (``hand_padding``), warped to the TDR input size; left
   hands are mirrored so every later stage sees a right hand.
3. **TDR** repaints the hidden parts of the hand and paints background
   over the other hand (skipped with ``use_tdr=False``: the "SHPE alone"
   baseline on exactly the same crops).
4. **SHPE** predicts 2D and root-relative 3D joints on the result.
5. 2D joints are mapped back to image pixels, left hands un-mirrored, and
   both hands are returned in mmpose's 3D hand layout (42 joints,
   InterHand2.6M order, right hand first), as ``InterHand3DDataset`` and
   ``Hand3DInferencer`` use.

The whole batch (both hands of every image) goes through each stage at
once. Each stage is built from its own config and checkpoint
(:func:`build_stage`), so a stage can be swapped without touching the
others.
"""
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from hdr_mm.structures import (INTERHAND_MIDDLE_MCP, INTERHAND_ROOT,
                               NUM_HAND_JOINTS, SHPE_ROOT, SHPE_TO_INTERHAND,
                               tdr_masks)
from ..tdr.composition import build_tdr_inputs, compose
from .hand_crops import (invert_affine, mask_boxes, square_crop_affine,
                         transform_points, warp_affine)
from .stage_builder import StageCheckpointError, build_stage

#: order of the hands in every per-hand tensor and in the 42-joint output
HANDS = ('right', 'left')
#: the HASM masks each hand needs, in TDR's order [A_t, V_t, A_o, V_o]
TDR_MASK_NAMES = {
    'right': ('r_amodal', 'r_visible', 'l_amodal', 'l_visible'),
    'left': ('l_amodal', 'l_visible', 'r_amodal', 'r_visible'),
}


@MODELS.register_module()
class HDRPoseEstimator(BaseModel):
    """The HDR pipeline: HASM -> per-hand crops -> TDR -> SHPE.

    Args:
        hasm: ``dict(config=..., checkpoint=None, cfg_options=None)`` of
            the amodal segmentation stage (a ``HandAmodalSegmentor``).
        tdr: The same for the de-occlusion/removal stage (``TDR``).
        shpe: The same for the single-hand pose stage (a
            ``TopdownPoseEstimator`` with a ``DetNetHead``).
        use_tdr: False skips TDR and feeds SHPE the raw hand crops: the
            "SHPE alone" baseline.
        hand_padding: Enlargement of each hand's amodal box (2.0 in HDR).
        hand_size: Side of the per-hand crops; default the SHPE's input
            size. TDR runs at its own input size and its output is
            composed at this one.
        min_mask_pixels: A hand whose predicted amodal mask has fewer
            pixels is reported absent (``hand_type`` 0, scores 0).
        bone_length: Scale of the root-relative 3D joints, the wrist to
            middle-MCP length in mm: ``'gt'`` takes it from each sample's
            ground truth (the paper's protocol; a hand without ground
            truth falls back to ``bone_length_mm``), a number uses that.
        bone_length_mm: The fallback/constant length (mm).
        data_preprocessor: Batches the uint8 two-hand crops; each stage
            normalises them itself with its own preprocessor.
        init_cfg: Unused (the stages carry their own weights).

    Outputs (``predict``): one ``PoseDataSample`` per image with
    ``pred_instances``:

    - ``keypoints`` (1, 42, 3): ``u, v`` image pixels and root-relative
      depth ``z`` (mm), as mmpose's 3D hand models give them;
    - ``keypoints_3d`` (1, 42, 3): root-relative 3D joints (mm), each hand
      relative to its own wrist, in the camera frame;
    - ``keypoint_scores`` (1, 42); ``hand_type`` (1, 2) right/left
      presence; ``rel_root_depth`` (1,): 0, HDR does not estimate the
      distance between the two wrists;

    and ``pred_fields``: ``hand_masks`` (4, S, S) HASM masks on the input
    crop, in the order ``mask_names`` of the metainfo. The per-hand crops
    before/after TDR are kept as data-sample fields ``hand_crops`` /
    ``tdr_crops`` (2, 3, s, s) uint8 BGR, right then left (mirrored), for
    visualisation. When the samples carry ``gt_fields.alone`` (each hand
    rendered alone, from ``LoadHDRTargets``/``PackHDRInputs``), the same
    crops of those renders are added as ``gt_hand_crops`` (2, 3, s, s) and
    the region TDR repaints as ``repaint`` (2, 1, s, s), for
    ``HDRStageMetric``.
    """

    def __init__(self,
                 hasm: dict,
                 tdr: Optional[dict],
                 shpe: dict,
                 use_tdr: bool = True,
                 hand_padding: float = 2.0,
                 hand_size: Optional[int] = None,
                 min_mask_pixels: int = 16,
                 bone_length='gt',
                 bone_length_mm: float = 95.0,
                 data_preprocessor: Optional[dict] = dict(
                     type='PoseDataPreprocessor'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if use_tdr and tdr is None:
            raise ValueError('HDRPoseEstimator: use_tdr=True needs a tdr '
                             'stage config')
        if bone_length != 'gt' and not isinstance(bone_length,
                                                  (int, float)):
            raise ValueError("bone_length must be 'gt' or a number of mm, "
                             f'got {bone_length!r}')
        self.hasm = build_stage('hasm', **hasm)
        self.tdr = build_stage('tdr', **tdr) if tdr is not None else None
        self.shpe = build_stage('shpe', **shpe)
        self.use_tdr = use_tdr
        self.hand_padding = hand_padding
        self.min_mask_pixels = min_mask_pixels
        self.bone_length = bone_length
        self.bone_length_mm = float(bone_length_mm)
        self.mask_names = tuple(self.hasm.mask_names)
        missing = {n for names in TDR_MASK_NAMES.values()
                   for n in names} - set(self.mask_names)
        if missing:
            raise ValueError(f'HDRPoseEstimator: the HASM stage predicts '
                             f'{self.mask_names}, missing {sorted(missing)}')
        self.hasm_size = self._stage_input_size(self.hasm.cfg, 'hasm')
        self.shpe_size = self._stage_input_size(self.shpe.cfg, 'shpe')
        self.tdr_size = (
            self._stage_input_size(self.tdr.cfg, 'tdr')
            if self.tdr is not None else None)
        self.hand_size = int(hand_size or self.shpe_size)
        self._register_load_state_dict_pre_hook(self._check_checkpoint_keys)

    # ------------------------------------------------------------------
    # set-up helpers
    @staticmethod
    def _stage_input_size(cfg, name: str) -> int:
        """Square input side of a stage, read from its config.

        A config states it as ``input_size`` (mmpose style, ``(w, h)``)
        or ``crop_size`` (mmseg style, ``(h, w)``) at top level.
        """
        for key in ('input_size', 'crop_size'):
            size = cfg.get(key)
            if size is not None:
                size = (size, size) if isinstance(size, int) else size
                if size[0] != size[1]:
                    raise ValueError(f'{name} stage: HDR needs square '
                                     f'inputs, the config has {key}={size}')
                return int(size[0])
        raise KeyError(f'{name} stage: its config states neither '
                       '`input_size` nor `crop_size`')

    def _check_checkpoint_keys(self, state_dict, prefix, *args) -> None:
        """Refuse a checkpoint that does not cover every stage exactly.

        mmengine's Runner loads ``load_from`` non-strictly, which would
        leave a stage whose weights are missing at its random
        initialisation without more than a warning; for the pipeline that
        is always a mistake (e.g. a checkpoint of another config).
        """
        own = {prefix + k for k in self.state_dict()}
        given = {k for k in state_dict if k.startswith(prefix)}
        missing, unexpected = sorted(own - given), sorted(given - own)
        if missing or unexpected:
            raise StageCheckpointError(
                f'HDR checkpoint does not match the stages of the config: '
                f'{len(missing)} missing key(s) {missing[:5]}, '
                f'{len(unexpected)} unexpected key(s) {unexpected[:5]}')

    # ------------------------------------------------------------------
    # the stages
    def segment(self, crops: Tensor) -> Tensor:
        """HASM on a batch of two-hand crops.

        Args:
            crops: (N, 3, S, S) float 0-255 in the dataset's channel order.

        Returns:
            Tensor: (N, 4, S, S) binary float masks, order ``mask_names``.
        """
        size = crops.shape[-1]
        x = crops
        if size != self.hasm_size:
            x = F.interpolate(
                x, (self.hasm_size, ) * 2, mode='bilinear',
                align_corners=False)
        x = self.hasm.data_preprocessor(dict(inputs=x), False)['inputs']
        shape = (self.hasm_size, self.hasm_size)
        metas = [dict(img_shape=shape, pad_shape=shape, ori_shape=shape)
                 ] * x.shape[0]
        logits = self.hasm.encode_decode(x, metas)  # (N, 2 * M, h, w)
        if logits.shape[-1] != size:
            logits = F.interpolate(
                logits, (size, size), mode='bilinear', align_corners=False)
        n, c, h, w = logits.shape
        masks = logits.view(n, c // 2, 2, h, w).argmax(dim=2)
        return masks.float()

    def hand_crops(self, crops: Tensor, masks: Tensor,
                   per_hand: Optional[Tensor] = None
                   ) -> Tuple[Tensor, Tensor, Tensor, Tensor,
                              Optional[Tensor]]:
        """Cut out, per hand, its square crop and its four TDR masks.

        Args:
            crops: (N, 3, S, S) two-hand crops.
            masks: (N, 4, S, S) HASM masks, order ``mask_names``.
            per_hand: Optional (N, 2, C, S, S) images of each hand (right,
                left) in the two-hand crop, e.g. the ground-truth
                single-hand renders, cut out like the hand crops.

        Returns:
            tuple:
            - images: (2N, 3, s, s) hand crops, rows ``[right_0..right_N,
              left_0..left_N]``, left ones mirrored;
            - hand_masks: (2N, 4, s, s) ``[A_t, V_t, A_o, V_o]``;
            - affine: (2N, 2, 3) two-hand crop -> hand crop pixels, without
              the mirroring;
            - present: (2N,) bool, the hand's amodal mask is not empty;
            - per_hand crops: (2N, C, s, s), or None.
        """
        n = crops.shape[0]
        idx = {name: i for i, name in enumerate(self.mask_names)}
        images, hand_masks, affines, present, extra = [], [], [], [], []
        for h, hand in enumerate(HANDS):
            order = [idx[name] for name in TDR_MASK_NAMES[hand]]
            target = masks[:, order]
            amodal = target[:, 0]
            boxes, valid = mask_boxes(amodal)
            valid &= amodal.flatten(1).sum(1) >= self.min_mask_pixels
            # an absent hand gets a crop of the whole image (its results
            # are discarded, but the batch keeps its shape)
            full = torch.tensor([0., 0., crops.shape[-1], crops.shape[-1]],
                                device=crops.device)
            boxes = torch.where(valid[:, None], boxes, full)
            flip = torch.full((n, ), hand == 'left', device=crops.device)
            mat = square_crop_affine(boxes, self.hand_size,
                                     self.hand_padding)
            mat_flip = square_crop_affine(boxes, self.hand_size,
                                          self.hand_padding, flip=flip)
            images.append(warp_affine(crops, mat_flip, self.hand_size))
            hand_masks.append(
                warp_affine(target, mat_flip, self.hand_size, 'nearest'))
            affines.append(mat)
            present.append(valid)
            if per_hand is not None:
                extra.append(warp_affine(per_hand[:, h].float(), mat_flip,
                                         self.hand_size))
        return (torch.cat(images), torch.cat(hand_masks), torch.cat(affines),
                torch.cat(present),
                torch.cat(extra) if per_hand is not None else None)

    @staticmethod
    def repaint_region(hand_masks: Tensor) -> Tensor:
        """The pixels TDR repaints (HDR_SPEC section 4).

        Args:
            hand_masks: (M, 4, s, s) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.

        Returns:
            Tensor: (M, 1, s, s) in {0, 1}.
        """
        hm = hand_masks
        return tdr_masks(hm[:, 0:1], hm[:, 1:2], hm[:, 2:3],
                         hm[:, 3:4])['repaint']

    def deocclude(self,
                  images: Tensor,
                  hand_masks: Tensor,
                  repaint: Optional[Tensor] = None) -> Tensor:
        """TDR on hand crops.

        The generator runs at its own input size; its output is brought
        back to the crops' size and pasted inside the (dilated) repaint
        region there, so pixels TDR does not repaint keep their full
        resolution.

        Args:
            images: (M, 3, s, s) hand crops, 0-255 float, dataset
                channel order.
            hand_masks: (M, 4, s, s) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.
            repaint: (M, 1, s, s) :meth:`repaint_region` of ``hand_masks``
                when the caller has it already.

        Returns:
            Tensor: (M, 3, s, s) composite, 0-255 float, same order.
        """
        pre = self.tdr.data_preprocessor
        size = images.shape[-1]
        img = pre.normalize(images)
        small_img, small_masks = img, hand_masks
        if size != self.tdr_size:
            small_img = F.interpolate(
                img, (self.tdr_size, ) * 2, mode='bilinear',
                align_corners=False, antialias=True)
            small_masks = F.interpolate(
                hand_masks, (self.tdr_size, ) * 2, mode='nearest')
        x, m, _ = build_tdr_inputs(small_img, small_masks)
        out, _ = self.tdr.generator(x, m)
        if size != self.tdr_size:
            out = F.interpolate(
                out, (size, size), mode='bilinear', align_corners=False)
        if repaint is None:
            repaint = self.repaint_region(hand_masks)
        comp = compose(out, img, repaint, self.tdr.dilate_kernel)
        return pre.denormalize(comp).float()

    def estimate(self, images: Tensor, ref_bones: Tensor
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SHPE on right-hand crops.

        Args:
            images: (M, 3, s, s) float 0-255 hand crops (mirrored lefts).
            ref_bones: (M,) wrist-to-middle-MCP length in mm (<= 0: use
                ``bone_length_mm``).

        Returns:
            tuple of numpy arrays, joints in SHPE order:
            - keypoints: (M, 21, 2) in ``images`` pixels;
            - scores: (M, 21);
            - keypoints_3d: (M, 21, 3) mm relative to the wrist, in the
              crop's (right-hand) frame.
        """
        x = images
        if images.shape[-1] != self.shpe_size:
            x = F.interpolate(
                images, (self.shpe_size, ) * 2, mode='bilinear',
                align_corners=False)
        samples = []
        for bone in ref_bones.tolist():
            s = PoseDataSample(metainfo=dict(
                input_size=(self.shpe_size, self.shpe_size)))
            s.gt_instance_labels = InstanceData(
                ref_bone_length=torch.tensor([bone]))
            samples.append(s)
        x = self.shpe.data_preprocessor(
            dict(inputs=x, data_samples=samples), False)['inputs']
        feats = self.shpe.extract_feat(x)
        test_cfg = dict(self.shpe.test_cfg or {})
        test_cfg.update(
            bone_length='gt' if self.bone_length == 'gt' else
            self.bone_length,
            bone_length_mm=self.bone_length_mm)
        preds = self.shpe.head.predict(feats, samples, test_cfg=test_cfg)
        scale = images.shape[-1] / self.shpe_size
        kpts = np.stack([p.keypoints[0] for p in preds])
        kpts = (kpts + 0.5) * scale - 0.5  # pixel centres
        scores = np.stack([p.keypoint_scores[0] for p in preds])
        xyz = np.stack([p.keypoints_3d[0] for p in preds])
        # the location maps predict the wrist too; report exactly
        # wrist-relative joints
        xyz = xyz - xyz[:, SHPE_ROOT:SHPE_ROOT + 1]
        return kpts, scores, xyz

    # ------------------------------------------------------------------
    def _reference_bones(self, data_samples: List[PoseDataSample]
                         ) -> Tensor:
        """(2N,) ground-truth wrist-to-middle-MCP length per hand, rows as
        in :meth:`hand_crops`; 0 where unknown or not asked for."""
        n = len(data_samples)
        bones = torch.zeros(2 * n)
        if self.bone_length != 'gt':
            return bones
        for i, s in enumerate(data_samples):
            gt = s.get('gt_instances', None)
            if gt is None or 'keypoints_cam' not in gt:
                continue
            kpts = np.asarray(gt.keypoints_cam).reshape(-1, 3)
            vis = np.asarray(gt.get('keypoints_visible',
                                    np.ones((1, len(kpts))))).reshape(-1)
            for h in range(2):
                root = h * NUM_HAND_JOINTS + INTERHAND_ROOT
                mcp = h * NUM_HAND_JOINTS + INTERHAND_MIDDLE_MCP
                if vis[root] > 0 and vis[mcp] > 0:
                    bones[h * n + i] = float(
                        np.linalg.norm(kpts[root] - kpts[mcp]))
        return bones

    @torch.no_grad()
    def predict(self, inputs: Tensor,
                data_samples: List[PoseDataSample]) -> List[PoseDataSample]:
        """Run the pipeline; see the class docstring for the outputs.

        Args:
            inputs: (N, 3, S, S) two-hand crops, float 0-255.
            data_samples: With metainfo ``input_center``, ``input_scale``
                (the crop's place in the image, as ``TopdownAffine``
                writes them) and, for the paper's scale protocol,
                ``gt_instances.keypoints_cam``.
        """
        n, _, size, _ = inputs.shape
        masks = self.segment(inputs)
        alone = self._ground_truth_alone(data_samples, inputs)
        images, hand_masks, affine, present, alone_crops = self.hand_crops(
            inputs, masks, alone)
        repaint = self.repaint_region(hand_masks)
        if self.use_tdr:
            fed = self.deocclude(images, hand_masks, repaint)
        else:
            fed = images
        kpts, scores, xyz = self.estimate(fed, self._reference_bones(
            data_samples))
        # the crop was mirrored for left hands: un-mirror 2D and 3D
        is_left = np.repeat([False, True], n)
        s = self.hand_size
        kpts[is_left, :, 0] = s - 1 - kpts[is_left, :, 0]
        xyz[is_left, :, 0] = -xyz[is_left, :, 0]
        # hand crop pixels -> two-hand crop pixels
        back = invert_affine(affine).cpu()
        kpts = transform_points(
            torch.from_numpy(kpts).float(), back).numpy()
        scores = scores * present.cpu().numpy()[:, None]

        for i, sample in enumerate(data_samples):
            center = np.asarray(sample.metainfo['input_center'], np.float32)
            in_scale = np.asarray(sample.metainfo['input_scale'], np.float32)
            kpt42 = np.zeros((NUM_HAND_JOINTS * 2, 3), np.float32)
            xyz42 = np.zeros((NUM_HAND_JOINTS * 2, 3), np.float32)
            score42 = np.zeros(NUM_HAND_JOINTS * 2, np.float32)
            for h in range(2):
                row = h * n + i
                joints = slice(h * NUM_HAND_JOINTS,
                               (h + 1) * NUM_HAND_JOINTS)
                uv = kpts[row][SHPE_TO_INTERHAND]
                # two-hand crop pixels -> image pixels (TopdownAffine)
                uv = uv / size * in_scale + center - 0.5 * in_scale
                kpt42[joints, :2] = uv
                kpt42[joints, 2] = xyz[row][SHPE_TO_INTERHAND][:, 2]
                xyz42[joints] = xyz[row][SHPE_TO_INTERHAND]
                score42[joints] = scores[row][SHPE_TO_INTERHAND]
            hand_type = np.array(
                [[float(present[0 * n + i]),
                  float(present[1 * n + i])]], np.float32)
            sample.pred_instances = InstanceData(
                keypoints=kpt42[None],
                keypoints_3d=xyz42[None],
                keypoint_scores=score42[None],
                hand_type=hand_type,
                rel_root_depth=np.zeros(1, np.float32))
            sample.pred_fields = PixelData(hand_masks=masks[i])
            sample.set_field(
                torch.stack([images[i], images[n + i]]).round().byte(),
                'hand_crops')
            sample.set_field(
                torch.stack([fed[i], fed[n + i]]).round().byte(),
                'tdr_crops')
            sample.set_metainfo(dict(mask_names=self.mask_names))
            if alone_crops is not None:
                rows = [i, n + i]
                sample.set_field(alone_crops[rows].round().byte(),
                                 'gt_hand_crops')
                sample.set_field(repaint[rows].byte(), 'repaint')
        return data_samples

    @staticmethod
    def _ground_truth_alone(data_samples: List[PoseDataSample],
                            inputs: Tensor) -> Optional[Tensor]:
        """(N, 2, 3, S, S) single-hand renders from the samples'
        ``gt_fields.alone`` (``LoadHDRTargets``), or None if any lacks
        them."""
        alone = []
        for s in data_samples:
            fields = s.get('gt_fields', None)
            if fields is None or 'alone' not in fields:
                return None
            alone.append(fields.alone.to(inputs.device).view(
                2, 3, *inputs.shape[-2:]))
        return torch.stack(alone)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[PoseDataSample]] = None,
                mode: str = 'predict'):
        """Only inference: the stages are trained with their own configs.

        Args:
            inputs: (N, 3, S, S) two-hand crops.
            data_samples: See :meth:`predict`.
            mode: ``'predict'`` (``'tensor'`` returns the HASM masks).
        """
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.segment(inputs)
        raise ValueError(
            f'HDRPoseEstimator is inference-only: mode {mode!r} is not '
            "supported ('predict', 'tensor'); train each stage with its "
            'own config')
