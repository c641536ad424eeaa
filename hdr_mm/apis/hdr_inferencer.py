"""Running the HDR pipeline on images through mmpose's inferencer API.

Usage::

    from hdr_mm.apis import HDRInferencer
    inferencer = HDRInferencer('configs/hdr/hdr_tiny_synthetic-256x256.py',
                               'work_dirs/main_job/hdr.pth', device='cpu')
    for result in inferencer('frames/', vis_out_dir='vis',
                             pred_out_dir='preds'):
        instances = result['predictions'][0]   # [] when no hand was found

The networks run on the path ``precision='auto'``, ``backend='auto'``
chooses for this machine (logged with the reason); ``precision=None,
backend='pytorch'`` runs them as built.

Also registered in mmpose's ``INFERENCERS`` as ``'HDRInferencer'``.
``MMPoseInferencer`` cannot route to it: it picks ``Hand3DInferencer`` by
the string ``'hand3d'`` in the model name and never consults the
registry (docs/inference.md).
"""
import logging
import mimetypes
import os
import os.path as osp
from typing import Any, List, Optional, Tuple, Union

import mmengine
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.infer.infer import ModelType
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from mmpose.apis.inferencers import Hand3DInferencer
from mmpose.datasets import InterHand3DDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import INFERENCERS
from mmpose.structures import PoseDataSample

from hdr_mm.datasets.image_io import read_image
from hdr_mm.engine.config_check import check_inference_config
from hdr_mm.models.hdr.stage_builder import StageCheckpointError
from hdr_mm.structures import NUM_HAND_JOINTS
from hdr_mm.utils.checkpoint_loading import checkpoint_loading
from hdr_mm.utils.user_files import read_config, require_file
from hdr_mm.visualization import HDRHandVisualizer
from .hand_detection import select_hands
from .strict_inferencer import HandDetInferencer, StrictWeightsMixin
from .two_hand_box import two_hand_box

#: ``det_model`` values that mean: no detector
NO_DETECTOR = (None, 'whole_image', 'whole-image')
#: ``precision`` / ``backend`` value that takes the config's
FROM_CONFIG = 'config'

InputType = Union[str, np.ndarray]


@INFERENCERS.register_module()
class HDRInferencer(StrictWeightsMixin, Hand3DInferencer):
    """mmpose's 3D hand inferencer for the HDR pipeline.

    Everything is ``Hand3DInferencer``'s (calling protocol, detector
    set-up, batching, saving) except what HDR needs:

    - **one box around both hands** per image, first found of: ``bboxes``
      (a two-hand box, or hand boxes whose union is used),
      ``keypoints_2d`` (the box of the valid joints), the detector (the
      best box of each hand side, :func:`select_hands`), else the
      whole image (boxes are clipped to the image), which is then the
      two-hand crop itself (not enlarged x2 as a hands' box is); with
      ``refine_box=True`` an image that fell back to the
      whole image runs again on the box of the hands HDR found;
    - the config's ``infer_pipeline`` (no ground truth);
    - the model's own outputs (one instance per image, or none when no
      hand was found): ``keypoints`` (42, 3) image pixels + depth to the
      wrist, ``keypoints_3d``, ``keypoint_scores``, ``hand_type``,
      ``hand_bboxes``, ``bboxes``, ``root_cam``, ``rel_root_depth``;
    - drawing with :class:`~hdr_mm.visualization.HDRHandVisualizer`;
    - ``weights`` and ``det_weights`` are read weights-only and must fit
      their model exactly (:class:`StrictWeightsMixin`,
      :class:`HandDetInferencer`).

    Args:
        model: HDR pipeline config (file, ``Config`` or dict).
        weights: Combined pipeline checkpoint; None keeps the stages' own
            checkpoints from the config.
        device: Torch device; default: CUDA if available.
        scope: Registry scope.
        det_model: mmdet config of a hand detector; None: no detector.
        det_weights: Its checkpoint (required with ``det_model``).
        det_cat_ids: The hand classes of a single-class detector (a
            hand-side detector's right/left classes are found by name,
            :func:`select_hands`).
        show_progress: Show a progress bar.
        bone_length_mm: Wrist-to-middle-MCP length (mm) that scales the
            3D joints; default the model's.
        precision: How the networks run: ``'auto'`` (chosen for this
            machine from its CPU ISA, :mod:`hdr_mm.deploy.auto`), None
            (as built, eager fp32), ``'fp32'`` (prepared for inference),
            ``'bf16'`` (fast only on CPUs with AMX or AVX512-BF16),
            ``'int8'`` (the quantized graphs in ``onnx_dir``,
            ``tools/deployment/quantize_int8.py``; ``'auto'`` runs them
            where int8 pays when they are there), or
            ``'config'`` (default): the config's ``model.precision``,
            ``'auto'`` unless the config sets it.
        backend: ``'auto'``, ``'pytorch'``, ``'onnxruntime'``,
            ``'openvino'`` (the networks exported to ONNX and run by that
            engine) or ``'config'`` (default): the config's
            ``model.backend``, ``'auto'`` unless the config sets it. What
            runs, and why when ``'auto'`` chose it, is logged
            (``runtime auto: ...``; ``inferencer.model.runtime.
            describe()`` says the same). A path ``'auto'`` tried
            that fails to load falls back to the next, with a warning
            naming it.
        onnx_dir: Where the graph backends write the ONNX graphs, kept
            there; None: the config's ``model.onnx_dir``, else a
            temporary folder removed once the graphs are loaded.
        unsafe_load: Read the checkpoints (``weights``, the stages' and the
            detector's) with a full unpickle. Only for files from a source
            you trust: a crafted checkpoint can then run arbitrary code.
            Checkpoints written by hdr_mm's tools never need it.

    Raises:
        FileNotFoundError: a config or checkpoint file does not exist.
        ValueError: a detector config without weights, or detector
            weights without a config.
        ConfigFileError: a config cannot be read (not a config file, a
            syntax error) or has no ``model``.
        ConfigCheckError: the config names an unregistered type.
        UnsafeCheckpointError: a checkpoint holds objects a weights-only
            load refuses (see ``unsafe_load``).
        StageCheckpointError: ``weights`` does not fit the pipeline.
        CheckpointMismatchError: ``det_weights`` does not fit the
            detector.
    """

    preprocess_kwargs: set = {'bbox_thr', 'nms_thr', 'bboxes',
                              'keypoints_2d'}
    forward_kwargs: set = {'refine_box'}
    weights_what = 'HDR checkpoint'
    weights_error = StageCheckpointError

    def __init__(self,
                 model: Union[ModelType, str],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: Optional[str] = 'mmpose',
                 det_model: Optional[Union[ModelType, str]] = None,
                 det_weights: Optional[str] = None,
                 det_cat_ids: Optional[Union[int, Tuple]] = 0,
                 show_progress: bool = False,
                 bone_length_mm: Optional[float] = None,
                 precision: Optional[str] = FROM_CONFIG,
                 backend: str = FROM_CONFIG,
                 onnx_dir: Optional[str] = None,
                 unsafe_load: bool = False) -> None:
        for what, path in (('HDR config', model), ('HDR checkpoint', weights),
                           ('detector config', det_model),
                           ('detector checkpoint', det_weights)):
            if isinstance(path, str) and path not in NO_DETECTOR:
                require_file(path, what)
        if det_model not in NO_DETECTOR and det_weights is None:
            raise ValueError(
                f'detector {det_model} has no weights (det_weights): an '
                'untrained detector finds no hands; train one '
                '(projects/rtmdet_hand_side) or pass its checkpoint')
        if det_model in NO_DETECTOR and det_weights is not None:
            raise ValueError(
                f'detector weights {det_weights} given without a detector '
                'config (det_model): pass the mmdet config these weights '
                'were trained with, or leave det_weights out')
        model = check_inference_config(model, 'HDR config')
        with checkpoint_loading(unsafe=unsafe_load):
            super().__init__(model, weights, device, scope, det_model,
                             det_weights, det_cat_ids, show_progress)
        if bone_length_mm is not None:
            self.model.set_bone_length(self.model.bone_length,
                                       bone_length_mm)
        # the weights are loaded: prepare the networks once
        runtime = self.model.set_runtime(
            self.model.precision if precision == FROM_CONFIG else precision,
            self.model.backend if backend == FROM_CONFIG else backend,
            onnx_dir)
        # (the reason of an 'auto' choice is logged by the runtime itself)
        print_log(
            f'HDRInferencer: the networks run as {runtime.describe(False)}',
            logger='current', level=logging.INFO)

    def _init_detector(self,
                       det_model: Optional[Union[ModelType, str]] = None,
                       det_weights: Optional[str] = None,
                       det_cat_ids: Optional[Union[int, Tuple]] = None,
                       device: Optional[str] = None) -> None:
        """The hand detector, a :class:`HandDetInferencer` (its checkpoint
        loaded strictly), or none for ``det_model`` None or
        ``'whole_image'`` (mmpose would pick a default detector to
        download)."""
        if det_model in NO_DETECTOR:
            self.detector = None
            return
        det_cfg = (read_config(det_model, 'detector config')
                   if isinstance(det_model, str) else det_model)
        self.detector = HandDetInferencer(
            det_cfg, det_weights, device=device,
            scope=det_cfg.get('default_scope', 'mmdet'),
            show_progress=False)
        self.det_cat_ids = (tuple(det_cat_ids) if isinstance(
            det_cat_ids, (tuple, list)) else (det_cat_ids, ))

    def _init_pipeline(self, cfg: Config) -> Compose:
        """The config's ``infer_pipeline``."""
        if cfg.get('infer_pipeline') is None:
            raise KeyError('HDRInferencer: the config has no '
                           '`infer_pipeline` (see configs/hdr/)')
        return Compose(cfg.infer_pipeline)

    def _init_visualizer(self, cfg: Config) -> HDRHandVisualizer:
        """An :class:`HDRHandVisualizer` with the config's backends."""
        cfg.visualizer = dict(
            cfg.get('visualizer') or {}, type='HDRHandVisualizer')
        return super()._init_visualizer(cfg)

    def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
        """As mmpose; then the 42-joint meta of ``InterHand3DDataset``
        (HDR's output layout, with its skeleton for drawing) unless the
        checkpoint holds one."""
        super()._load_weights_to_model(model, checkpoint, cfg)
        meta = getattr(model, 'dataset_meta', None) or {}
        if meta.get('num_keypoints') != 2 * NUM_HAND_JOINTS:
            model.dataset_meta = parse_pose_metainfo(
                InterHand3DDataset.METAINFO)

    # ------------------------------------------------------------------
    def _inputs_to_list(self, inputs) -> list:
        """An image file, a folder (its image files, sorted), an array, a
        video or webcam (as mmpose), or a list of files / arrays.

        Raises:
            FileNotFoundError: a path does not exist.
            ValueError: a folder holds no image.
        """
        self._video_input = False
        if isinstance(inputs, np.ndarray):
            return [inputs]
        if not isinstance(inputs, str):
            return list(inputs)
        if inputs.startswith('webcam'):
            return super()._inputs_to_list(inputs)
        if not osp.exists(inputs):
            raise FileNotFoundError(f'input not found: {inputs}')
        if osp.isdir(inputs):
            files = sorted(
                osp.join(inputs, f) for f in os.listdir(inputs)
                if (mimetypes.guess_type(f)[0] or '').startswith('image/'))
            if not files:
                raise ValueError(f'no image file in folder {inputs}')
            return files
        if (mimetypes.guess_type(inputs)[0] or '').startswith('video/'):
            return super()._inputs_to_list(inputs)
        return [inputs]  # any other file is read as an image

    def preprocess(self, inputs: List[InputType], batch_size: int = 1,
                   **kwargs):
        """Batches of preprocessed images (``Hand3DInferencer`` takes one
        at a time); per-image ``bboxes`` / ``keypoints_2d`` are lists
        with one entry per image.

        Yields:
            tuple: collated batch and its inputs.
        """
        per_image = {k: kwargs.pop(k, None) for k in ('bboxes',
                                                      'keypoints_2d')}
        for key, values in per_image.items():
            if values is not None and len(values) != len(inputs):
                raise ValueError(
                    f'{key} must have one entry per input image '
                    f'({len(inputs)}), got {len(values)}; for one image '
                    f'pass {key}=[value]')
        batch = []
        for i, single in enumerate(inputs):
            extra = {k: v[i] for k, v in per_image.items() if v is not None}
            batch.append((i, single, self.preprocess_single(
                single, i, **kwargs, **extra)[0]))
            if len(batch) == batch_size or i == len(inputs) - 1:
                self._buffer['batch'] = batch
                yield (self.collate_fn([b[2] for b in batch]),
                       [b[1] for b in batch])
                batch = []

    def preprocess_single(self,
                          input: InputType,
                          index: int,
                          bbox_thr: float = 0.3,
                          nms_thr: float = 0.3,
                          bboxes: Optional[Any] = None,
                          keypoints_2d: Optional[Any] = None) -> List[dict]:
        """Read one image, find its two-hand box, run the pipeline.

        Args:
            input: Image file or (H, W, 3) BGR array.
            index: Its position in the inputs (names arrays).
            bbox_thr: Detector score threshold.
            nms_thr: Unused (kept for mmpose's calling protocol): the
                detector's best box per side is taken.
            bboxes: User box(es) of this image: (4,), (N, 4) or (N, 5).
            keypoints_2d: User joints of this image: (K, 2) or (K, 3),
                third column > 0 for valid joints.

        Returns:
            list[dict]: one pipeline output.

        Raises:
            FileNotFoundError, ValueError, TypeError: unreadable image,
            wrong input type or bad box, naming the image.
        """
        name = input if isinstance(input, str) else f'input #{index}'
        if isinstance(input, str):
            img = read_image(input)
        elif isinstance(input, np.ndarray):
            if input.ndim != 3 or input.shape[2] != 3 or input.size == 0:
                raise ValueError(f'{name}: expected an (H, W, 3) BGR image '
                                 f'array, got shape {input.shape}')
            img = input
        else:
            raise TypeError(f'{name}: expected an image path or array, got '
                            f'{type(input).__name__}')
        detected = None
        if self.detector is not None and not any(
                x is not None and np.size(x) for x in (bboxes,
                                                       keypoints_2d)):
            det = self.detector(img, return_datasamples=True)['predictions']
            detected = select_hands(
                det[0], self.detector.model.dataset_meta.get('classes'),
                bbox_thr, hand_labels=getattr(self, 'det_cat_ids', None),
                image_shape=img.shape[:2])
        box, source = two_hand_box(img.shape[:2], name, bboxes, keypoints_2d,
                                   detected)
        data_info = dict(
            img=img, img_path=input if isinstance(input, str) else
            f'{index}.jpg'.rjust(10, '0'), bbox=box[None],
            bbox_score=np.ones(1, np.float32), **self.model.dataset_meta)
        if source == 'image':
            # the whole image bounds the hands but is not their box:
            # enlarged x2 like a hands' box it would shrink them to half
            # the size HASM was trained at; it is the crop itself
            data_info['hands_box_scale'] = 1.0
        packed = self.pipeline(data_info)
        packed['data_samples'].set_metainfo(dict(box_source=source))
        return [packed]

    # ------------------------------------------------------------------
    @torch.no_grad()
    def forward(self, inputs: Union[dict, tuple],
                refine_box: bool = False) -> List[PoseDataSample]:
        """Run the model; an image without hands gets no instance.

        Args:
            inputs: A collated batch.
            refine_box: Run an image whose box was the whole image again
                on the box of the hands found there, so that the two-hand
                crop frames them as in training.

        Returns:
            list[PoseDataSample]: one per image.
        """
        samples = self.model.test_step(inputs)
        if refine_box:
            redo = [k for k, s in enumerate(samples)
                    if s.metainfo.get('box_source') == 'image'
                    and s.pred_instances.hand_type.any()]
            if redo:
                batch = self._buffer['batch']
                data = self.collate_fn([
                    self.preprocess_single(
                        batch[k][1], batch[k][0],
                        bboxes=samples[k].pred_instances.bboxes)[0]
                    for k in redo
                ])
                for k, sample in zip(redo, self.model.test_step(data)):
                    sample.set_metainfo(dict(box_source='hands_found'))
                    samples[k] = sample
        for sample in samples:
            if not sample.pred_instances.hand_type.any():
                sample.pred_instances = sample.pred_instances[np.zeros(
                    len(sample.pred_instances), bool)]
        return samples

    def visualize(self, inputs: list, preds: List[PoseDataSample],
                  **kwargs) -> List[np.ndarray]:
        """``Hand3DInferencer.visualize`` (the visualizer takes the 2D
        skeletons from each sample itself); ``kpt_thr`` defaults to 0:
        every joint of a hand that was found is drawn."""
        kwargs.setdefault('kpt_thr', 0.0)
        return super().visualize(inputs, preds, **kwargs) or []

    def postprocess(self,
                    preds: List[PoseDataSample],
                    visualization: List[np.ndarray],
                    return_datasample: Optional[bool] = None,
                    return_datasamples: bool = False,
                    pred_out_dir: str = '') -> dict:
        """As mmpose's, with every HDR output in the instance dicts
        (:meth:`instances_to_dicts`; mmpose's ``split_instances`` keeps
        only keypoints, scores and boxes)."""
        if return_datasample is not None:
            return_datasamples = return_datasample
        dicts = [self.instances_to_dicts(p.pred_instances) for p in preds]
        for d, sample in zip(dicts, preds):
            if not pred_out_dir:
                break
            if self._video_input:
                self.video_info['predictions'].append(d)
            else:
                stem = osp.splitext(osp.basename(
                    sample.metainfo['img_path']))[0]
                mmengine.dump(d, osp.join(pred_out_dir, stem + '.json'),
                              indent='  ')
        return dict(visualization=visualization,
                    predictions=preds if return_datasamples else dicts)

    @staticmethod
    def instances_to_dicts(instances: InstanceData) -> List[dict]:
        """JSON-ready predictions of one image: per instance the fields
        listed in the class docstring, as lists (``bboxes`` as
        ``bbox``)."""
        keys = ('keypoints', 'keypoints_3d', 'keypoint_scores', 'hand_type',
                'hand_bboxes', 'root_cam', 'rel_root_depth')
        out = []
        for i in range(len(instances)):
            item = {k: np.asarray(instances.get(k)[i]).tolist()
                    for k in keys if k in instances}
            if 'bboxes' in instances:
                item['bbox'] = np.asarray(instances.bboxes[i]).tolist()
            out.append(item)
        return out
