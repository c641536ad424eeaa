"""HDR: the full interacting-hand pipeline as one mmpose model.

Per frame (docs/method.md):

1. **HASM** segments the two-hand crop into left/right amodal and visible
   masks (``predict_masks`` of the HASM stage).
2. Each hand gets its own crop, cut **from the frame** (the context window
   the data pipeline kept, zero outside the image): the box of its amodal
   mask mapped back to image pixels, squared and enlarged x2
   (``hand_padding``), at the SHPE's input size; its four masks are
   warped the same way. Left hands are mirrored so that every later stage
   sees a right hand.
3. **TDR** repaints the hidden parts of the hand and paints background
   over the other hand (``inpaint`` of the TDR stage). ``shpe_input``
   can feed SHPE something else for comparison: the raw crops
   (``'crop'``: the "SHPE alone" baseline on the same crops) or each hand
   rendered alone, cut the same way (``'gt_alone'``: a perfect TDR, the
   ceiling of what TDR can give).
4. **SHPE** predicts the hand's joints; as an mmpose top-down model it
   un-mirrors them and maps them back to image pixels itself.
5. Each hand is placed in the camera frame from its 2D and root-relative
   3D joints (:func:`~hdr_mm.structures.solve_root_translation`), which
   gives the right-to-left root offset.

The whole batch (both hands of every frame) goes through each stage at
once. Each stage is built from its own config and checkpoint
(:func:`build_stage`), so a stage can be swapped without touching the
others. This class only composes the stages and maps their results; the
geometry is :mod:`hdr_mm.structures.bbox`, the mask algebra
:mod:`hdr_mm.structures.hand_masks`.
"""
from typing import Dict, List, NamedTuple, Optional

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from hdr_mm.structures import (HANDS, INTERHAND_MIDDLE_MCP, INTERHAND_ROOT,
                               NUM_HAND_JOINTS, SHPE_TO_INTERHAND,
                               TDR_MASK_NAMES, default_camera,
                               solve_root_translation, tdr_masks)
from hdr_mm.structures.bbox import batched_transforms as geo
from .runtime import (StageRuntime, build_runtime, check_runtime,
                      is_prepared)
from .shpe_input import resolve_shpe_input
from .stage_builder import StageCheckpointError, build_stage, stage_input_size


class HandCrops(NamedTuple):
    """Where each hand's crop lies; rows ``[right_0..right_N-1, left_0..
    left_N-1]`` (2N rows)."""
    #: (2N, 4) the hand's amodal box in image pixels
    boxes: Tensor
    #: (2N,) bool, the hand was found
    present: Tensor
    #: (2N, 2) and (2N,): the crop's centre and side in image pixels
    centers: Tensor
    sides: Tensor
    #: (2N, 2, 3) context-window pixels -> hand crop pixels (mirrored)
    context_to_crop: Tensor
    #: (2N, 2, 3) two-hand crop pixels -> hand crop pixels (mirrored)
    two_hand_to_crop: Tensor


@MODELS.register_module()
class HDRPoseEstimator(BaseModel):
    """The HDR pipeline: HASM -> per-hand crops -> TDR -> SHPE.

    Args:
        hasm: ``dict(config=..., checkpoint=None, cfg_options=None)`` of
            the amodal segmentation stage (a ``HandAmodalSegmentor``).
        tdr: The same for the de-occlusion/removal stage (``TDR``).
        shpe: The same for the single-hand pose stage (an mmpose top-down
            model, e.g. ``SingleHandPoseEstimator`` with a ``DetNetHead``).
        shpe_input: What SHPE is fed (``SHPE_INPUTS`` of
            :mod:`~hdr_mm.models.hdr.shpe_input`): ``'tdr'`` the hand
            crops after TDR (HDR); ``'crop'`` the raw hand crops,
            TDR skipped (the "SHPE alone" baseline); ``'gt_alone'`` each
            hand rendered alone, cut exactly like its crop (what a perfect
            TDR would give: the ceiling; needs the ground truth of
            :class:`~hdr_mm.datasets.transforms.LoadHDRTargets`).
        use_tdr: Alias of ``shpe_input``, kept for older configs: True is
            ``'tdr'``, False ``'crop'``; None (default) leaves
            ``shpe_input`` alone. Contradicting ``shpe_input`` is an
            error. Also a read/write attribute.
        hand_padding: Enlargement of each hand's amodal box (2.0 in HDR).
        min_mask_pixels: A hand whose amodal mask has fewer pixels on the
            two-hand crop is reported absent (``hand_type`` 0, scores 0).
        bone_length: Scale of the root-relative 3D joints, the wrist to
            middle-MCP length in mm: ``'gt'`` takes it from each sample's
            ground truth (the paper's protocol; a hand without ground
            truth falls back to ``bone_length_mm``), a number uses that.
            Set on the SHPE's ``test_cfg``.
        bone_length_mm: The fallback/constant length (mm).
        precision: How the three networks run: None (as built, eager
            fp32), ``'fp32'`` (prepared for inference: BatchNorms folded,
            ``channels_last`` where it pays) or ``'bf16'`` (CPU/CUDA
            autocast, numerically sensitive parts in float32; fast only
            on CPUs with AMX or AVX512-BF16). See
            :mod:`hdr_mm.models.hdr.runtime`.
        backend: ``'pytorch'`` or ``'onnxruntime'`` (the networks exported
            to ONNX and run by onnxruntime; same pre/post-processing).
        data_preprocessor: Batches the two-hand crops and the context
            windows (``HDRDataPreprocessor``); each stage normalises its
            own input.
        init_cfg: Unused (the stages carry their own weights).

    Outputs (``predict``): one ``PoseDataSample`` per frame with
    ``pred_instances`` (one instance, joints in InterHand2.6M order, right
    hand first, as mmpose's ``InterHand3DDataset`` and
    ``Hand3DInferencer`` use):

    - ``keypoints`` (1, 42, 3): ``u, v`` image pixels and the joint's depth
      relative to its wrist ``z`` (mm); (1, 42, 2) with a 2D-only SHPE;
    - ``keypoints_3d`` (1, 42, 3): root-relative 3D joints (mm), each hand
      relative to its own wrist, camera axes (3D SHPE only);
    - ``keypoint_scores`` (1, 42): 0 for a hand not found;
    - ``hand_type`` (1, 2): right/left found (1) or not (0);
    - ``hand_bboxes`` (1, 2, 4): each hand's amodal box in image pixels
      (zeros when not found); ``bboxes`` (1, 4): their union;
    - ``root_cam`` (1, 2, 3): each wrist in the camera frame (mm; NaN when
      not found, with a 2D-only SHPE, or when the hand's 2D joints are
      degenerate, see :func:`~hdr_mm.structures.solve_root_translation`),
      from the frame's ``focal`` /
      ``principal_pt`` metainfo or :func:`~hdr_mm.structures.
      default_camera`;
    - ``rel_root_3d`` (1, 3) and ``rel_root_depth`` (1,): left wrist minus
      right wrist (mm), 0 unless both hands were placed;

    ``pred_fields.hand_masks`` (4, S, S): HASM's masks on the two-hand
    crop, order ``mask_names`` (metainfo). The per-hand crops before and
    after TDR are kept as ``hand_crops`` / ``tdr_crops`` (2, 3, s, s)
    uint8 BGR (right, left mirrored) for drawing. With the ground truth
    of :class:`~hdr_mm.datasets.transforms.LoadHDRTargets`, the same crops
    of each hand rendered alone are added as ``gt_hand_crops``, the
    region TDR repaints as ``repaint`` (2, 1, s, s) and its two parts
    (the target's hidden part ``H_t``, the other hand ``H_o``) as
    ``holes`` (2, 2, s, s), for ``HDRStageMetric``.
    """

    def __init__(self,
                 hasm: dict,
                 tdr: Optional[dict],
                 shpe: dict,
                 shpe_input: str = 'tdr',
                 use_tdr: Optional[bool] = None,
                 hand_padding: float = 2.0,
                 min_mask_pixels: int = 16,
                 bone_length='gt',
                 bone_length_mm: float = 95.0,
                 precision: Optional[str] = None,
                 backend: str = 'pytorch',
                 data_preprocessor: Optional[dict] = dict(
                     type='HDRDataPreprocessor'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        shpe_input = resolve_shpe_input(shpe_input, use_tdr)
        if shpe_input == 'tdr' and tdr is None:
            raise ValueError("HDRPoseEstimator: shpe_input='tdr' (use_tdr="
                             'True) needs a tdr stage config')
        if bone_length != 'gt' and not isinstance(bone_length,
                                                  (int, float)):
            raise ValueError("bone_length must be 'gt' or a number of mm, "
                             f'got {bone_length!r}')
        self.hasm = build_stage('hasm', **hasm)
        self.tdr = build_stage('tdr', **tdr) if tdr is not None else None
        self.shpe = build_stage('shpe', **shpe)
        self.shpe_input = shpe_input
        self.hand_padding = hand_padding
        self.min_mask_pixels = min_mask_pixels
        self.bone_length = bone_length
        self.mask_names = tuple(self.hasm.mask_names)
        missing = {n for names in TDR_MASK_NAMES.values()
                   for n in names} - set(self.mask_names)
        if missing:
            raise ValueError(f'HDRPoseEstimator: the HASM stage predicts '
                             f'{self.mask_names}, missing {sorted(missing)}')
        self.hasm_size = stage_input_size(self.hasm.cfg, 'hasm')
        self.shpe_size = stage_input_size(self.shpe.cfg, 'shpe')
        self.tdr_size = (stage_input_size(self.tdr.cfg, 'tdr')
                         if self.tdr is not None else None)
        self.set_bone_length(bone_length, bone_length_mm)
        check_runtime(precision, backend)
        self.precision, self.backend = precision, backend
        self._runtime: Optional[StageRuntime] = None
        self._register_load_state_dict_pre_hook(self._check_checkpoint_keys)

    @property
    def use_tdr(self) -> bool:
        """Whether SHPE is fed TDR's output (``shpe_input == 'tdr'``);
        setting it False feeds the raw crops (``'crop'``)."""
        return self.shpe_input == 'tdr'

    @use_tdr.setter
    def use_tdr(self, value: bool) -> None:
        if value and self.tdr is None:
            raise ValueError('HDRPoseEstimator: use_tdr=True needs a tdr '
                             'stage config')
        self.shpe_input = 'tdr' if value else 'crop'

    def set_runtime(self,
                    precision: Optional[str] = None,
                    backend: str = 'pytorch',
                    onnx_dir: Optional[str] = None,
                    num_threads: Optional[int] = None) -> StageRuntime:
        """Prepare the networks for ``precision`` and ``backend`` now
        (otherwise the first :meth:`predict` does it with the constructor's
        choice). Call it after the weights are loaded: preparing folds the
        BatchNorms, and a checkpoint no longer loads afterwards.

        Args:
            precision: See the class docstring.
            backend: See the class docstring.
            onnx_dir: Where the ONNX graphs go (onnxruntime); None: a
                temporary folder.
            num_threads: onnxruntime's intra-op threads.

        Returns:
            StageRuntime: what the stages now run with.
        """
        self.precision, self.backend = precision, backend
        self._runtime = build_runtime(
            dict(hasm=self.hasm, tdr=self.tdr, shpe=self.shpe),
            dict(hasm=self.hasm_size, tdr=self.tdr_size,
                 shpe=self.shpe_size), precision, backend, onnx_dir,
            num_threads)
        return self._runtime

    @property
    def runtime(self) -> StageRuntime:
        """The networks' runtime, built on first use."""
        if self._runtime is None:
            self.set_runtime(self.precision, self.backend)
        return self._runtime

    def set_bone_length(self, bone_length='gt',
                        bone_length_mm: Optional[float] = None) -> None:
        """Choose how SHPE's scale-free 3D joints get their size in mm
        (see the class docstring); written into the SHPE's ``test_cfg``."""
        test_cfg = self.shpe.test_cfg
        if test_cfg is None:
            test_cfg = self.shpe.test_cfg = dict()
        self.bone_length = bone_length
        test_cfg['bone_length'] = bone_length
        if bone_length_mm is not None:
            self.bone_length_mm = float(bone_length_mm)
            test_cfg['bone_length_mm'] = self.bone_length_mm

    def _check_checkpoint_keys(self, state_dict, prefix, *args) -> None:
        """Refuse a checkpoint that does not cover every stage exactly.

        mmengine's Runner loads ``load_from`` non-strictly, which would
        leave a stage whose weights are missing at its random
        initialisation without more than a warning; for the pipeline that
        is always a mistake (e.g. a checkpoint of another config).
        """
        if is_prepared(self):
            raise StageCheckpointError(
                'HDRPoseEstimator: the networks were prepared for fast '
                'inference (BatchNorms folded): load the checkpoint before '
                'the first predict / set_runtime')
        own = {prefix + k for k in self.state_dict()}
        given = {k for k in state_dict if k.startswith(prefix)}
        missing, unexpected = sorted(own - given), sorted(given - own)
        if missing or unexpected:
            raise StageCheckpointError(
                f'HDR checkpoint does not match the stages of the config: '
                f'{len(missing)} missing key(s) {missing[:5]}, '
                f'{len(unexpected)} unexpected key(s) {unexpected[:5]}')

    # ------------------------------------------------------------------
    # geometry glue
    def locate_hands(self, masks: Tensor,
                     data_samples: List[PoseDataSample]) -> HandCrops:
        """Where to cut each hand, from HASM's masks.

        Args:
            masks: (N, 4, S, S) HASM masks, order ``mask_names``.
            data_samples: With metainfo ``input_center``, ``input_scale``
                (the two-hand crop in image pixels) and ``context_origin``.

        Returns:
            HandCrops: 2N rows, right hands then left hands.
        """
        n, size = masks.shape[0], masks.shape[-1]
        dev = masks.device

        def meta(key: str) -> Tensor:
            return torch.as_tensor(
                np.stack([np.asarray(s.metainfo[key], np.float32).reshape(-1)
                          for s in data_samples]), device=dev)

        crop_c, crop_s = meta('input_center'), meta('input_scale')[:, 0]
        origin = meta('context_origin')
        crop_c2, crop_s2 = crop_c.repeat(2, 1), crop_s.repeat(2)
        amodal = self.hand_masks(masks)[:, 0]
        boxes, present = geo.mask_bboxes(amodal)
        present &= amodal.flatten(1).sum(1) >= self.min_mask_pixels
        boxes = geo.crop_to_image(boxes.view(-1, 2, 2), crop_c2, crop_s2,
                                  size).reshape(-1, 4)
        # an absent hand is cut around the whole two-hand crop (its results
        # are discarded; the batch keeps its shape)
        whole = torch.cat([crop_c2 - crop_s2[:, None] / 2,
                           crop_c2 + crop_s2[:, None] / 2], dim=1)
        boxes = torch.where(present[:, None], boxes, whole)
        centers, sides = geo.square_crop_cs(boxes, self.hand_padding)
        mirror = torch.arange(2 * n, device=dev) >= n
        to_crop = geo.crop_warp_matrix(centers, sides, self.shpe_size,
                                       mirror)
        two_hand = geo.crop_warp_matrix(crop_c2, crop_s2, size)
        return HandCrops(
            boxes=boxes * present[:, None],
            present=present,
            centers=centers,
            sides=sides,
            context_to_crop=geo.compose_affine(
                to_crop, geo.translation(origin.repeat(2, 1))),
            two_hand_to_crop=geo.compose_affine(
                to_crop, geo.invert_affine(two_hand)))

    def hand_masks(self, masks: Tensor) -> Tensor:
        """(2N, 4, S, S) ``[A_t, V_t, A_o, V_o]`` of each target hand,
        rows as :class:`HandCrops`, from (N, 4, S, S) HASM masks."""
        idx = {name: i for i, name in enumerate(self.mask_names)}
        return torch.cat([
            masks[:, [idx[name] for name in TDR_MASK_NAMES[hand]]]
            for hand in HANDS
        ])

    def cut_hands(self, context: Tensor, masks: Tensor,
                  hands: HandCrops) -> Dict[str, Tensor]:
        """Each hand's crop from the frame and its masks from HASM's.

        Args:
            context: (N, 3, H, W) context windows.
            masks: (N, 4, S, S) HASM masks.
            hands: From :meth:`locate_hands`.

        Returns:
            dict: ``images`` (2N, 3, s, s) float 0-255 and ``masks``
            (2N, 4, s, s) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.
        """
        s = self.shpe_size
        return dict(
            images=geo.warp_affine(context.repeat(2, 1, 1, 1),
                                   hands.context_to_crop, s),
            masks=geo.warp_affine(self.hand_masks(masks),
                                  hands.two_hand_to_crop, s, 'nearest'))

    # ------------------------------------------------------------------
    # SHPE and the 3D placement
    def _shpe_samples(self, hands: HandCrops,
                      data_samples: List[PoseDataSample]
                      ) -> List[PoseDataSample]:
        """One mmpose top-down sample per hand crop (rows of
        :class:`HandCrops`), so that the SHPE maps its own results back
        to image pixels."""
        n = len(data_samples)
        bones = self._reference_bones(data_samples)
        centers = hands.centers.cpu().numpy()
        sides = hands.sides.cpu().numpy()
        boxes = hands.boxes.cpu().numpy()
        samples = []
        for r in range(2 * n):
            s = PoseDataSample(metainfo=dict(
                input_size=(self.shpe_size, self.shpe_size),
                input_center=centers[r],
                input_scale=np.array([sides[r], sides[r]], np.float32),
                mirrored=bool(r >= n)))
            s.gt_instances = InstanceData(
                bboxes=boxes[r][None], bbox_scores=np.ones(1, np.float32))
            s.gt_instance_labels = InstanceData(
                ref_bone_length=torch.tensor([bones[r]]))
            samples.append(s)
        return samples

    def estimate(self, images: Tensor,
                 samples: List[PoseDataSample]) -> List[InstanceData]:
        """The SHPE stage on hand crops, as any mmpose top-down model.

        Args:
            images: (M, 3, s, s) float 0-255 crops.
            samples: Their data samples (:meth:`_shpe_samples`).

        Returns:
            list[InstanceData]: per crop ``keypoints`` (1, 21, 2) in image
            pixels, ``keypoint_scores`` (1, 21) and, for a 3D SHPE,
            ``keypoints_3d`` (1, 21, 3) root-relative mm, joints in the
            SHPE's order.
        """
        data = self.shpe.data_preprocessor(
            dict(inputs=images, data_samples=samples), False)
        if self.runtime.shpe is None:
            out = self.shpe.predict(data['inputs'], samples)
        else:
            out = self.shpe.predict(data['inputs'], samples,
                                    maps_network=self.runtime.shpe)
        return [s.pred_instances for s in out]

    @staticmethod
    def _camera(sample: PoseDataSample):
        """The frame's focal / principal point, or the default camera."""
        meta = sample.metainfo
        if meta.get('focal') is not None and \
                meta.get('principal_pt') is not None:
            return (np.asarray(meta['focal'], np.float32).reshape(2),
                    np.asarray(meta['principal_pt'], np.float32).reshape(2))
        shape = meta.get('frame_shape', meta.get('ori_shape'))
        return default_camera(shape)

    def _reference_bones(self, data_samples: List[PoseDataSample]
                         ) -> np.ndarray:
        """(2N,) ground-truth wrist-to-middle-MCP length per hand, rows as
        :class:`HandCrops`; 0 where unknown or not asked for."""
        n = len(data_samples)
        bones = np.zeros(2 * n, np.float32)
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

    def _frame_instances(self, preds: List[InstanceData],
                         hands: HandCrops, i: int, n: int,
                         sample: PoseDataSample) -> InstanceData:
        """The 42-joint prediction of frame ``i`` from its two hands."""
        rows = (i, n + i)  # right, left
        present = hands.present.cpu().numpy()[list(rows)]
        has_3d = 'keypoints_3d' in preds[rows[0]]
        k = NUM_HAND_JOINTS
        uv = np.zeros((2 * k, 2), np.float32)
        xyz = np.zeros((2 * k, 3), np.float32)
        scores = np.zeros(2 * k, np.float32)
        roots = np.full((2, 3), np.nan, np.float32)
        focal, princpt = self._camera(sample)
        for h, r in enumerate(rows):
            joints = slice(h * k, (h + 1) * k)
            pred = preds[r]
            uv[joints] = np.asarray(pred.keypoints)[0][SHPE_TO_INTERHAND,
                                                       :2]
            scores[joints] = np.asarray(
                pred.keypoint_scores)[0][SHPE_TO_INTERHAND] * present[h]
            if has_3d:
                xyz[joints] = np.asarray(
                    pred.keypoints_3d)[0][SHPE_TO_INTERHAND]
                if present[h]:
                    roots[h] = solve_root_translation(
                        uv[joints], xyz[joints], focal, princpt,
                        np.maximum(scores[joints], 1e-3))
        rel = roots[1] - roots[0]
        rel = rel if np.isfinite(rel).all() else np.zeros(3, np.float32)
        boxes = hands.boxes.cpu().numpy()[list(rows)].astype(np.float32)
        found = boxes[present]
        union = np.concatenate([found[:, :2].min(0), found[:, 2:].max(0)]) \
            if len(found) else np.zeros(4, np.float32)
        inst = InstanceData(
            keypoint_scores=scores[None],
            hand_type=present.astype(np.float32)[None],
            hand_bboxes=boxes[None],
            bboxes=union[None].astype(np.float32),
            root_cam=roots[None],
            rel_root_3d=rel[None].astype(np.float32),
            rel_root_depth=np.array([rel[2]], np.float32))
        if has_3d:
            inst.keypoints = np.concatenate([uv, xyz[:, 2:]], 1)[None]
            inst.keypoints_3d = xyz[None]
        else:
            inst.keypoints = uv[None]
        return inst

    # ------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, inputs: Dict[str, Tensor],
                data_samples: List[PoseDataSample]) -> List[PoseDataSample]:
        """Run the pipeline; see the class docstring for the outputs.

        Args:
            inputs: ``img`` (N, 3, S, S) two-hand crops and ``context``
                (N, 3, H, W) context windows, float 0-255
                (``HDRDataPreprocessor``).
            data_samples: With metainfo ``input_center``, ``input_scale``,
                ``context_origin`` (``CropBothHands``), optionally the
                camera (``focal``, ``principal_pt``) and, for the paper's
                scale protocol, ``gt_instances.keypoints_cam``.

        Returns:
            list[PoseDataSample]: the samples with the predictions.
        """
        crops, context = inputs['img'], inputs['context']
        n = crops.shape[0]
        rt = self.runtime
        with rt.context():
            masks = self.hasm.predict_masks(crops, self.hasm_size, rt.hasm)
        hands = self.locate_hands(masks, data_samples)
        cut = self.cut_hands(context, masks, hands)
        alone = self._ground_truth_alone(data_samples, hands, context)
        with rt.context():
            fed = self.shpe_feed(cut, alone)
            preds = self.estimate(fed,
                                  self._shpe_samples(hands, data_samples))
        regions = tdr_masks(*cut['masks'].split(1, dim=1))
        holes = torch.cat([regions['hidden_t'], regions['hidden_o']], 1)
        for i, sample in enumerate(data_samples):
            rows = [i, n + i]
            sample.pred_instances = self._frame_instances(
                preds, hands, i, n, sample)
            sample.pred_fields = PixelData(hand_masks=masks[i])
            sample.set_metainfo(dict(mask_names=self.mask_names))
            sample.set_field(cut['images'][rows].round().byte(),
                             'hand_crops')
            sample.set_field(fed[rows].round().byte(), 'tdr_crops')
            if alone is not None:
                sample.set_field(alone[rows].round().byte(),
                                 'gt_hand_crops')
                sample.set_field(regions['repaint'][rows].byte(),
                                 'repaint')
                sample.set_field(holes[rows].byte(), 'holes')
        return data_samples

    def shpe_feed(self, cut: Dict[str, Tensor],
                  alone: Optional[Tensor]) -> Tensor:
        """The hand crops SHPE is fed, as ``shpe_input`` chooses.

        Args:
            cut: From :meth:`cut_hands`: ``images`` (2N, 3, s, s) and
                ``masks`` (2N, 4, s, s).
            alone: (2N, 3, s, s) each hand rendered alone, cut like the
                crops (:meth:`_ground_truth_alone`), or None.

        Returns:
            Tensor: (2N, 3, s, s) float 0-255.

        Raises:
            ValueError: ``'gt_alone'`` without the renders.
        """
        if self.shpe_input == 'tdr':
            return self.tdr.inpaint(cut['images'], cut['masks'],
                                    self.tdr_size, self.runtime.tdr)
        if self.shpe_input == 'crop':
            return cut['images']
        if alone is None:
            raise ValueError(
                "HDRPoseEstimator: shpe_input='gt_alone' feeds SHPE each "
                'hand rendered alone, but a sample has no gt_alone_context: '
                'the test pipeline needs LoadHDRTargets (and CropBothHands '
                'with context_keys=[gt_alone_right, gt_alone_left])')
        return alone

    def _ground_truth_alone(self, data_samples: List[PoseDataSample],
                            hands: HandCrops,
                            context: Tensor) -> Optional[Tensor]:
        """(2N, 3, s, s): each hand rendered alone (``gt_alone_context``
        of the samples, cut like the context), cut like the hand crops;
        None if a sample lacks it."""
        if not all('gt_alone_context' in s for s in data_samples):
            return None
        alone = geo.pad_stack([
            s.gt_alone_context.to(context.device).float()
            for s in data_samples
        ])
        both = torch.cat([alone[:, :3], alone[:, 3:]])
        return geo.warp_affine(both, hands.context_to_crop, self.shpe_size)

    def forward(self,
                inputs: Dict[str, Tensor],
                data_samples: Optional[List[PoseDataSample]] = None,
                mode: str = 'predict'):
        """Only inference: the stages are trained with their own configs.

        Args:
            inputs: See :meth:`predict`.
            data_samples: See :meth:`predict`.
            mode: ``'predict'`` (``'tensor'`` returns the HASM masks).
        """
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            with self.runtime.context():
                return self.hasm.predict_masks(inputs['img'], self.hasm_size,
                                               self.runtime.hasm)
        raise ValueError(
            f'HDRPoseEstimator is inference-only: mode {mode!r} is not '
            "supported ('predict', 'tensor'); train each stage with its "
            'own config')
