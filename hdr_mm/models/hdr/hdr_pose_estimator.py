"""HDR: the full interacting-hand pipeline as one mmpose model.

Per frame (docs/method.md):

1. **HASM** segments the two-hand crop into left/right amodal and visible
   masks (``predict_masks`` of the HASM stage).
2. Each hand gets its own crop, cut **from the frame** (the context window
   the data pipeline kept, zero outside the image): the box of its amodal
   mask mapped back to image pixels, squared and enlarged x2
   (``hand_padding``), at the SHPE's input size (larger when the SHPE
   was trained on tighter crops, ``shpe_padding``); its four masks are
   warped the same way. Left hands are mirrored so that every later stage
   sees a right hand.
3. **TDR** repaints the hidden parts of the hand and paints background
   over the other hand (``inpaint`` of the TDR stage). ``shpe_input``
   can feed SHPE something else for comparison: the raw crops
   (``'crop'``: the "SHPE alone" baseline on the same crops) or each hand
   rendered alone, cut the same way (``'gt_alone'``: a perfect TDR, the
   ceiling of what TDR can give).
4. **SHPE** predicts the hand's joints (``estimate_joints`` of the SHPE
   stage) from the centre window of each crop at its input size; as an
   mmpose top-down model it un-mirrors them and maps them back to image
   pixels itself.
5. Each hand is placed in the camera frame from its 2D and root-relative
   3D joints, which gives the right-to-left root offset
   (:mod:`~hdr_mm.models.hdr.hand_placement`).

The whole batch (both hands of every frame) goes through each stage at
once. Each stage is built from its own config and checkpoint
(:func:`build_stage`), so a stage can be swapped without touching the
others, and is entered only through its inference entry, where the
runtime's backend plugs in (:mod:`~hdr_mm.models.hdr.runtime`). This
class only composes the stages and maps their results; the geometry is
:mod:`hdr_mm.structures.bbox`, the mask algebra
:mod:`hdr_mm.structures.hand_masks`, the batch's rows
:mod:`hdr_mm.structures.hand_crops`. It does inference only: what the
evaluation of the intermediate stages compares with (each hand rendered
alone, cut like its crop) is built by that metric
(:class:`~hdr_mm.evaluation.metrics.HDRStageMetric`).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from hdr_mm.structures import (TDR_MASK_NAMES, drop_duplicate_hand,
                               hidden_fractions)
from hdr_mm.structures.hand_crops import (HandCrops, centre_window,
                                          cut_hands, frame_rows,
                                          hand_crop_size, locate_hands)
from hdr_mm.models.tdr.composition import confine_hidden_to_occluder
from .hand_placement import place_hands, reference_bone_lengths
from .runtime import (StageRuntime, build_runtime, check_runtime,
                      is_prepared)
from .mask_input import MASK_INPUTS, MASK_SOURCES, masks_from_hasm
from .shpe_input import (SHPE_FEEDS, check_extra_shpe_inputs,
                         resolve_shpe_input)
from .stage_builder import StageCheckpointError, build_stage, stage_input_size


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
        extra_shpe_inputs: Further inputs (``SHPE_INPUTS``) SHPE is fed in
            the same pass, e.g. ``['crop', 'gt_alone']`` beside ``'tdr'``
            to compare them on one run of HASM and of the hand cutting;
            each one's results go to the data samples as
            ``pred_instances_<input>`` and ``tdr_crops_<input>`` (scored
            by :class:`~hdr_mm.evaluation.metrics.SHPEInputMetric`).
            Default: none.
        mask_input: Where the four hand masks come from (``MASK_INPUTS``
            of :mod:`~hdr_mm.models.hdr.mask_input`): ``'hasm'`` (default)
            the HASM stage; ``'gt'`` each sample's ground-truth masks
            (what a perfect HASM would give: a diagnostic; needs
            :class:`~hdr_mm.datasets.transforms.LoadHDRTargets`).
        use_tdr: Alias of ``shpe_input``, kept for older configs: True is
            ``'tdr'``, False ``'crop'``; None (default) leaves
            ``shpe_input`` alone. Contradicting ``shpe_input`` is an
            error. Also a read/write attribute.
        hand_padding: Enlargement of each hand's amodal box (2.0 in HDR).
        shpe_padding: The enlargement the SHPE was trained with, if
            smaller (None: ``hand_padding``). The hands are then cut
            ``hand_padding / shpe_padding`` times the SHPE's input side
            (TDR works on them whole) and SHPE reads their centre window
            (:func:`~hdr_mm.structures.hand_crops.hand_crop_size`), so a
            SHPE trained on tighter crops sees the hand as large as in
            training.
        min_mask_pixels: A hand whose amodal mask has fewer pixels on the
            two-hand crop is reported absent (``hand_type`` 0, scores 0).
        occluder_margin: None (default) gives TDR HASM's masks as they
            are (the authors' algebra); a number of pixels (at the hand
            crop's size) repaints only the part of the target hand hidden
            within that distance of the other hand's visible mask
            (:func:`~hdr_mm.models.tdr.confine_hidden_to_occluder`): a
            hand with no other hand in front of it is left as it is.
        duplicate_overlap: None (default) takes HASM's two sides as two
            hands; a share in (0, 1]: when the smaller hand's amodal mask
            lies more than that share inside the other one, the frame has
            one hand, seen in both sides' masks, and the side with fewer
            visible pixels is cleared before the hands are cut
            (:func:`~hdr_mm.structures.drop_duplicate_hand`; for a HASM
            that hedges on a lone hand's side).
        depth_gap_mm: None (default) places each hand in the camera frame
            on its own, its depth from its apparent size; a number of mm:
            two hands found in a frame are placed together, the palm
            centre (:func:`~hdr_mm.structures.palm_centre`) of the one
            HASM sees more hidden
            (:func:`~hdr_mm.structures.hidden_fractions`) that much
            further away than the other's, both hidden alike at one depth
            (:func:`~hdr_mm.structures.solve_two_roots`). Interacting
            hands of one person are close in depth, and a hand's size is
            known from its SHPE only to within a fraction, which moves its
            depth by the same fraction: the common depth keeps the error
            out of the hands' offset. ``tools/analysis_tools/
            depth_gap.py`` measures the gap of a dataset.
        bone_length: Scale of the root-relative 3D joints, the wrist to
            middle-MCP length in mm: ``'gt'`` takes it from each sample's
            ground truth (the paper's protocol; a hand without ground
            truth falls back to ``bone_length_mm``), a number uses that.
            The SHPE's test-time option (its ``set_bone_length``).
        bone_length_mm: The fallback length (mm).
        precision: How the three networks run: ``'auto'`` (default: the
            path for this machine, see ``backend``), None (as built, eager
            fp32), ``'fp32'`` (prepared for inference: BatchNorms folded,
            ``channels_last`` where it pays) or ``'bf16'`` (CPU/CUDA
            autocast, numerically sensitive parts in float32; fast only
            on CPUs with AMX or AVX512-BF16) or ``'int8'`` (with
            a graph backend or ``'auto'`` and an ``onnx_dir`` holding
            the quantized graphs that ``tools/deployment/quantize_int8.py``
            wrote; ``'auto'`` chooses them where int8 pays: VNNI or
            AVX2, no AMX). See :mod:`hdr_mm.models.hdr.runtime`.
        backend: ``'auto'`` (default), ``'pytorch'``, ``'onnxruntime'`` or
            ``'openvino'`` (the networks exported to ONNX and run by that
            engine; same pre/post-processing). ``'auto'`` (either or
            both) takes the fastest path measured for the CPU's ISA
            (:mod:`hdr_mm.deploy.auto`) and logs it with the reason; a
            path that fails to load falls back to the next, with a
            warning naming it. The runtime is built on the first
            :meth:`predict` (or :meth:`set_runtime`), after the weights
            are loaded.
        onnx_dir: Where the graph backends write the ONNX graphs, kept
            there; None: a temporary folder, removed once the graphs are
            loaded.
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
    crop, order ``mask_names`` (metainfo). Each frame's two hand crops
    (right, left mirrored) are described by

    - ``hand_crops`` / ``tdr_crops`` (2, 3, s, s) uint8 BGR: the crops
      before and after TDR (what SHPE was fed);
    - ``hand_crop_masks`` (2, 4, s, s) uint8: HASM's masks on each crop,
      ``[A_t, V_t, A_o, V_o]`` of its target hand ``t`` and the other
      hand ``o`` (what TDR was given);
    - ``hand_crop_warps`` (2, 2, 3) float32: the affine map from the
      context window's pixels (image pixels minus the metainfo
      ``context_origin``) to each crop's pixels;
    - ``hand_crop_mask_warps`` (2, 2, 3) float32: the affine map from the
      two-hand crop's pixels (where the masks are) to each crop's pixels.
    """

    def __init__(self,
                 hasm: dict,
                 tdr: Optional[dict],
                 shpe: dict,
                 shpe_input: str = 'tdr',
                 extra_shpe_inputs: Sequence[str] = (),
                 mask_input: str = 'hasm',
                 use_tdr: Optional[bool] = None,
                 hand_padding: float = 2.0,
                 shpe_padding: Optional[float] = None,
                 min_mask_pixels: int = 16,
                 occluder_margin: Optional[int] = None,
                 duplicate_overlap: Optional[float] = None,
                 depth_gap_mm: Optional[float] = None,
                 bone_length='gt',
                 bone_length_mm: float = 95.0,
                 precision: Optional[str] = 'auto',
                 backend: str = 'auto',
                 onnx_dir: Optional[str] = None,
                 data_preprocessor: Optional[dict] = dict(
                     type='HDRDataPreprocessor'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        shpe_input = resolve_shpe_input(shpe_input, use_tdr)
        if mask_input not in MASK_INPUTS:
            raise ValueError(f'HDRPoseEstimator: mask_input must be one of '
                             f'{MASK_INPUTS}, got {mask_input!r}')
        if shpe_input == 'tdr' and tdr is None:
            raise ValueError("HDRPoseEstimator: shpe_input='tdr' (use_tdr="
                             'True) needs a tdr stage config')
        self.extra_shpe_inputs = check_extra_shpe_inputs(
            extra_shpe_inputs, shpe_input, tdr is not None)
        self.hasm = build_stage('hasm', **hasm)
        self.tdr = build_stage('tdr', **tdr) if tdr is not None else None
        self.shpe = build_stage('shpe', **shpe)
        self.shpe_input = shpe_input
        self.mask_input = mask_input
        self.hand_padding = hand_padding
        self.min_mask_pixels = min_mask_pixels
        if occluder_margin is not None and occluder_margin < 0:
            raise ValueError(f'HDRPoseEstimator: occluder_margin must be '
                             f'None or >= 0 pixels, got {occluder_margin}')
        self.occluder_margin = occluder_margin
        if duplicate_overlap is not None and not 0 < duplicate_overlap <= 1:
            raise ValueError(f'HDRPoseEstimator: duplicate_overlap must be '
                             f'None or in (0, 1], got {duplicate_overlap}')
        self.duplicate_overlap = duplicate_overlap
        if depth_gap_mm is not None and not (
                np.isfinite(depth_gap_mm) and depth_gap_mm >= 0):
            raise ValueError(f'HDRPoseEstimator: depth_gap_mm must be None '
                             f'or a number >= 0 (mm), got {depth_gap_mm}')
        self.depth_gap_mm = depth_gap_mm
        self.mask_names = tuple(self.hasm.mask_names)
        missing = {n for names in TDR_MASK_NAMES.values()
                   for n in names} - set(self.mask_names)
        if missing:
            raise ValueError(f'HDRPoseEstimator: the HASM stage predicts '
                             f'{self.mask_names}, missing {sorted(missing)}')
        self.hasm_size = stage_input_size(self.hasm.cfg, 'hasm')
        self.shpe_size = stage_input_size(self.shpe.cfg, 'shpe')
        self.shpe_padding = (hand_padding
                             if shpe_padding is None else shpe_padding)
        try:
            #: side of the hand crops cut from the frame (TDR's input)
            self.crop_size = hand_crop_size(self.shpe_size, hand_padding,
                                            self.shpe_padding)
        except ValueError as e:
            raise ValueError(f'HDRPoseEstimator: {e}') from None
        self.tdr_size = (stage_input_size(self.tdr.cfg, 'tdr')
                         if self.tdr is not None else None)
        self.set_bone_length(bone_length, bone_length_mm)
        check_runtime(precision, backend)
        self.precision, self.backend = precision, backend
        self.onnx_dir = onnx_dir
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
        BatchNorms, and a checkpoint no longer loads afterwards (a
        checkpoint loaded after a graph backend was set up makes the next
        :meth:`predict` export the graphs again).

        Args:
            precision: See the class docstring.
            backend: See the class docstring.
            onnx_dir: Where the ONNX graphs go (graph backends); None: the
                constructor's ``onnx_dir``.
            num_threads: The graph engine's inference threads.

        Returns:
            StageRuntime: what the stages now run with; its
            :meth:`~StageRuntime.describe` says which path and why.
        """
        self.precision, self.backend = precision, backend
        self._runtime = build_runtime(
            dict(hasm=self.hasm, tdr=self.tdr, shpe=self.shpe),
            dict(hasm=self.hasm_size, tdr=self.tdr_size,
                 shpe=self.shpe_size), precision, backend,
            onnx_dir or self.onnx_dir, num_threads)
        return self._runtime

    @property
    def runtime(self) -> StageRuntime:
        """The networks' runtime, built on first use. It may be set to a
        :class:`StageRuntime` of one's own (e.g. networks that record
        their inputs, ``tools/deployment/quantize_int8.py``), used until
        :meth:`set_runtime` or a checkpoint load replaces it, or to None
        (built again on the next use)."""
        if self._runtime is None:
            self.set_runtime(self.precision, self.backend)
        return self._runtime

    @runtime.setter
    def runtime(self, runtime: Optional[StageRuntime]) -> None:
        if runtime is not None and not isinstance(runtime, StageRuntime):
            raise TypeError(f'HDRPoseEstimator.runtime must be a '
                            f'StageRuntime or None, got '
                            f'{type(runtime).__name__}')
        self._runtime = runtime

    def set_bone_length(self, bone_length='gt',
                        bone_length_mm: Optional[float] = None) -> None:
        """Choose how SHPE's scale-free 3D joints get their size in mm
        (see the class docstring), an option of the SHPE stage.

        Args:
            bone_length: ``'gt'`` or a number of mm; also the attribute
                :attr:`bone_length`.
            bone_length_mm: The fallback length (mm), None keeps it; also
                the attribute :attr:`bone_length_mm`.

        Raises:
            ValueError: ``bone_length`` is neither ``'gt'`` nor a number.
        """
        self.shpe.set_bone_length(bone_length, bone_length_mm)
        self.bone_length = bone_length
        if bone_length_mm is not None:
            self.bone_length_mm = float(bone_length_mm)

    def _stages(self) -> tuple:
        """The stage models, in pipeline order (TDR may be None)."""
        return self.hasm, self.tdr, self.shpe

    def _check_checkpoint_keys(self, state_dict, prefix, *args) -> None:
        """Refuse a checkpoint that does not cover every stage exactly.

        mmengine's Runner loads ``load_from`` non-strictly, which would
        leave a stage whose weights are missing at its random
        initialisation without more than a warning; for the pipeline that
        is always a mistake (e.g. a checkpoint of another config). A
        graph backend set up before is dropped (its graphs hold the old
        weights); the next :meth:`predict` sets it up again.
        """
        if is_prepared(self._stages()):
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
        if self._runtime is not None and self._runtime.backend != 'pytorch':
            # the exported graphs hold the old weights: export again
            self._runtime = None

    # ------------------------------------------------------------------
    # geometry glue
    def locate_hands(self, masks: Tensor,
                     data_samples: List[PoseDataSample]) -> HandCrops:
        """Where to cut each hand, from HASM's masks
        (:func:`~hdr_mm.structures.hand_crops.locate_hands` with this
        model's options).

        Args:
            masks: (N, 4, S, S) HASM masks, order ``mask_names``.
            data_samples: With metainfo ``input_center``, ``input_scale``
                (the two-hand crop in image pixels) and ``context_origin``.

        Returns:
            HandCrops: 2N rows, right hands then left hands.
        """
        return locate_hands(masks, self.mask_names,
                            [s.metainfo for s in data_samples],
                            self.crop_size, self.hand_padding,
                            self.min_mask_pixels)

    def cut_hands(self, context: Tensor, masks: Tensor,
                  hands: HandCrops) -> Dict[str, Tensor]:
        """Each hand's crop from the frame and its masks from HASM's
        (:func:`~hdr_mm.structures.hand_crops.cut_hands`), the hidden
        part confined near the other hand if ``occluder_margin`` is set.

        Args:
            context: (N, 3, H, W) context windows.
            masks: (N, 4, S, S) HASM masks.
            hands: From :meth:`locate_hands`.

        Returns:
            dict: ``images`` (2N, 3, s, s) float 0-255 and ``masks``
            (2N, 4, s, s) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.
        """
        cut = cut_hands(context, masks, self.mask_names, hands,
                        self.crop_size)
        if self.occluder_margin is not None:
            cut['masks'] = confine_hidden_to_occluder(cut['masks'],
                                                      self.occluder_margin)
        return cut

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
        masks = MASK_SOURCES[self.mask_input](self, crops, data_samples)
        if self.duplicate_overlap is not None:
            masks = drop_duplicate_hand(masks, self.mask_names,
                                        self.duplicate_overlap)
        hands = self.locate_hands(masks, data_samples)
        cut = self.cut_hands(context, masks, hands)
        gaps = self.depth_gaps(masks)
        instances, fed = self.estimate_hands(self.shpe_input, cut, hands,
                                             data_samples, gaps)
        self.add_pred_to_datasample(instances, masks, cut, fed, hands,
                                    data_samples)
        for shpe_input in self.extra_shpe_inputs:
            self.add_extra_input_to_datasample(
                shpe_input,
                *self.estimate_hands(shpe_input, cut, hands, data_samples,
                                     gaps), data_samples)
        return data_samples

    def estimate_hands(self, shpe_input: str, cut: Dict[str, Tensor],
                       hands: HandCrops, data_samples: List[PoseDataSample],
                       gaps: Optional[np.ndarray]
                       ) -> Tuple[List[InstanceData], Tensor]:
        """SHPE on one of its inputs, and the hands placed in the camera
        frame.

        Args:
            shpe_input: What SHPE is fed (``SHPE_INPUTS``).
            cut: From :meth:`cut_hands`.
            hands: From :meth:`locate_hands`.
            data_samples: The N frames' samples.
            gaps: From :meth:`depth_gaps`.

        Returns:
            tuple: the N frame predictions
            (:func:`~hdr_mm.models.hdr.hand_placement.place_hands`) and
            what SHPE was fed, (2N, 3, s, s) float 0-255.
        """
        rt = self.runtime
        with rt.context():
            fed = self.shpe_feed(cut, hands, data_samples, shpe_input)
            window, sides = centre_window(fed, hands.sides, self.shpe_size)
            preds = self.shpe.estimate_joints(
                window, hands.centers, sides, hands.mirrored,
                reference_bone_lengths(data_samples), rt.shpe)
        return place_hands(preds, hands.present, hands.boxes, data_samples,
                           gaps), fed

    @staticmethod
    def add_extra_input_to_datasample(shpe_input: str,
                                      instances: List[InstanceData],
                                      fed: Tensor,
                                      data_samples: List[PoseDataSample]
                                      ) -> None:
        """Put the results of an extra SHPE input into the data samples
        as ``pred_instances_<input>`` and ``tdr_crops_<input>`` (the
        fields ``pred_instances`` and ``tdr_crops`` hold for the main
        input).

        Args:
            shpe_input: The extra input.
            instances: From :meth:`estimate_hands`.
            fed: From :meth:`estimate_hands`.
            data_samples: The N frames' samples (filled in place).
        """
        n = len(data_samples)
        for i, sample in enumerate(data_samples):
            sample.set_field(instances[i], f'pred_instances_{shpe_input}')
            sample.set_field(fed[frame_rows(i, n)].round().byte(),
                             f'tdr_crops_{shpe_input}')

    def add_pred_to_datasample(self, instances: List[InstanceData],
                               masks: Tensor, cut: Dict[str, Tensor],
                               fed: Tensor, hands: HandCrops,
                               data_samples: List[PoseDataSample]
                               ) -> List[PoseDataSample]:
        """Put each frame's results into its data sample (the fields of
        the class docstring).

        Args:
            instances: N frame predictions
                (:func:`~hdr_mm.models.hdr.hand_placement.place_hands`).
            masks: (N, 4, S, S) HASM masks.
            cut: From :meth:`cut_hands`.
            fed: (2N, 3, s, s) what SHPE was fed.
            hands: From :meth:`locate_hands`.
            data_samples: The N frames' samples.

        Returns:
            list[PoseDataSample]: ``data_samples``, filled.
        """
        n = len(data_samples)
        for i, sample in enumerate(data_samples):
            rows = frame_rows(i, n)
            sample.pred_instances = instances[i]
            sample.pred_fields = PixelData(hand_masks=masks[i])
            sample.set_metainfo(dict(mask_names=self.mask_names))
            sample.set_field(cut['images'][rows].round().byte(),
                             'hand_crops')
            sample.set_field(fed[rows].round().byte(), 'tdr_crops')
            sample.set_field(cut['masks'][rows].byte(), 'hand_crop_masks')
            sample.set_field(hands.context_to_crop[rows], 'hand_crop_warps')
            sample.set_field(hands.two_hand_to_crop[rows],
                             'hand_crop_mask_warps')
        return data_samples

    def depth_gaps(self, masks: Tensor) -> Optional[np.ndarray]:
        """Each frame's left-minus-right palm-centre depth for the
        placement (``depth_gap_mm`` signed by which hand HASM sees more
        hidden).

        Args:
            masks: (N, 4, S, S) HASM masks.

        Returns:
            np.ndarray | None: (N,) mm (0 where both are hidden alike);
            None without ``depth_gap_mm``.
        """
        if self.depth_gap_mm is None:
            return None
        hidden = hidden_fractions(masks, self.mask_names).cpu().numpy()
        return self.depth_gap_mm * np.sign(hidden[:, 1] - hidden[:, 0])

    def shpe_feed(self,
                  cut: Dict[str, Tensor],
                  hands: HandCrops,
                  data_samples: List[PoseDataSample],
                  shpe_input: Optional[str] = None) -> Tensor:
        """The hand crops SHPE is fed
        (:data:`~hdr_mm.models.hdr.shpe_input.SHPE_FEEDS`).

        Args:
            cut: From :meth:`cut_hands`: ``images`` (2N, 3, s, s) and
                ``masks`` (2N, 4, s, s).
            hands: From :meth:`locate_hands`.
            data_samples: The N frames' samples.
            shpe_input: Which input; None: ``shpe_input``.

        Returns:
            Tensor: (2N, 3, s, s) float 0-255.
        """
        feed = SHPE_FEEDS[shpe_input or self.shpe_input]
        return feed(self, cut, hands, data_samples)

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
            return masks_from_hasm(self, inputs['img'], data_samples)
        raise ValueError(
            f'HDRPoseEstimator is inference-only: mode {mode!r} is not '
            "supported ('predict', 'tensor'); train each stage with its "
            'own config')
