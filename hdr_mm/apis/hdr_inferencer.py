"""Running the HDR pipeline on image files, folders or arrays through
mmpose's inferencer API.

Usage::

    from hdr_mm.apis import HDRInferencer
    inferencer = HDRInferencer('configs/hdr/hdr_tiny_synthetic-256x256.py',
                               'work_dirs/main_job/hdr.pth', device='cpu')
    for result in inferencer('frames/', vis_out_dir='vis',
                             pred_out_dir='preds'):
        instances = result['predictions'][0]   # [] when no hand was found

The inferencer is also registered in mmpose's ``INFERENCERS`` registry as
``'HDRInferencer'``.
"""
import logging
import mimetypes
import os
import os.path as osp
from collections import defaultdict
from typing import (Any, Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple, Union)

import mmengine
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.fileio import join_path
from mmengine.infer.infer import ModelType
from mmengine.logging import print_log
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmengine.structures import InstanceData
from mmpose.apis.inferencers import Hand3DInferencer
from mmpose.apis.inferencers.base_mmpose_inferencer import BaseMMPoseInferencer
from mmpose.datasets import InterHand3DDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.functional import nms
from mmpose.registry import INFERENCERS
from mmpose.structures import PoseDataSample

from hdr_mm.datasets.image_io import read_image
from hdr_mm.engine.config_check import check_inference_config
from hdr_mm.structures import NUM_HAND_JOINTS
from hdr_mm.utils.checkpoint_loading import checkpoint_loading
from hdr_mm.visualization import HDRHandVisualizer

InputType = Union[str, np.ndarray]
#: transforms of a test pipeline that read ground truth next to the frame;
#: they are left out of the inference pipeline
GT_TRANSFORMS = ('LoadHDRTargets', 'WarpExtraKeys')
#: image suffixes taken from a folder (besides what ``mimetypes`` knows)
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                  '.webp')


def _bare_type(t: Any) -> str:
    """A transform's type name without its registry scope prefix."""
    name = t if isinstance(t, str) else getattr(t, '__name__', str(t))
    return name.split('.')[-1]


def union_box(boxes: np.ndarray) -> np.ndarray:
    """The smallest box holding all given boxes.

    Args:
        boxes: (N, >=4) ``x1, y1, x2, y2`` (extra columns, e.g. scores,
            are ignored), N >= 1.

    Returns:
        np.ndarray: (4,) float32 ``x1, y1, x2, y2``.
    """
    boxes = np.asarray(boxes, np.float32).reshape(len(boxes), -1)[:, :4]
    return np.concatenate([boxes[:, :2].min(0), boxes[:, 2:].max(0)])


def keypoints_box(keypoints: np.ndarray, name: str = 'keypoints_2d'
                  ) -> np.ndarray:
    """Box of the valid 2D joints of the hands.

    Args:
        keypoints: (K, 2) ``u, v`` pixels, or (K, 3) with a third column
            that marks valid joints (> 0: a visibility flag or a score);
            a leading instance axis of size 1 is accepted.
        name: Argument name for error messages.

    Returns:
        np.ndarray: (4,) float32 ``x1, y1, x2, y2``.

    Raises:
        ValueError: wrong shape or no valid joint.
    """
    kpts = np.asarray(keypoints, np.float32)
    if kpts.ndim == 3 and kpts.shape[0] == 1:
        kpts = kpts[0]
    if kpts.ndim != 2 or kpts.shape[1] not in (2, 3):
        raise ValueError(f'{name}: expected (K, 2) or (K, 3) joints per '
                         f'image, got shape {kpts.shape}')
    valid = np.isfinite(kpts[:, :2]).all(1)
    if kpts.shape[1] == 3:
        valid &= kpts[:, 2] > 0
    if not valid.any():
        raise ValueError(f'{name}: no valid joint to put a box around')
    pts = kpts[valid, :2]
    return np.concatenate([pts.min(0), pts.max(0)])


def clip_box(box: np.ndarray, width: int, height: int,
             name: str) -> np.ndarray:
    """Clip a box to the image; refuse one that lies outside it.

    Args:
        box: (4,) ``x1, y1, x2, y2``.
        width: Image width.
        height: Image height.
        name: The image's name for error messages.

    Returns:
        np.ndarray: (4,) float32 clipped box.

    Raises:
        ValueError: the box is not finite, inverted, or has no area inside
            the image.
    """
    box = np.asarray(box, np.float32).reshape(-1)
    if box.shape != (4, ) or not np.isfinite(box).all():
        raise ValueError(f'{name}: a hand box must be 4 finite numbers '
                         f'x1, y1, x2, y2, got {box.tolist()}')
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f'{name}: hand box {box.tolist()} is empty or '
                         'inverted (expected x1 < x2, y1 < y2)')
    clipped = np.array([
        np.clip(box[0], 0, width), np.clip(box[1], 0, height),
        np.clip(box[2], 0, width), np.clip(box[3], 0, height)
    ], np.float32)
    if clipped[2] - clipped[0] < 1 or clipped[3] - clipped[1] < 1:
        raise ValueError(f'{name}: hand box {box.tolist()} lies outside the '
                         f'{width}x{height} image')
    return clipped


@INFERENCERS.register_module()
class HDRInferencer(Hand3DInferencer):
    """mmpose's 3D hand inferencer for the HDR pipeline
    (``HDRPoseEstimator``).

    The stock ``Hand3DInferencer`` (and ``MMPoseInferencer``, which builds
    it only for configs whose name holds ``'hand3d'``) cannot run HDR:

    - it expects ``dataset_type`` in the config and otherwise may pick
      mmpose's default hand detector, whose weights are downloaded; HDR
      configs have no ``dataset_type`` and nothing may be downloaded here;
    - it feeds each detected box as a separate instance, whereas HDR takes
      one crop around *both* hands (the union of the hand boxes, enlarged
      x2 by the config's ``GetBBoxCenterScale``);
    - it takes the model's dataset meta from ``train_dataloader``, which
      an inference-only pipeline config does not have;
    - it uses the config's test pipeline, which for HDR loads the
      intermediate ground truth (masks, single-hand renders);
    - its ``forward`` fails when no hand is found (minimum over no joint)
      and merges the samples, which drops HDR's crops and masks;
    - its visualizer (``Pose3dLocalVisualizer``) cannot render 3D with
      matplotlib >= 3.10.

    This subclass keeps the rest (``visualize``, the calling protocol,
    detector handling) and changes exactly these points:

    - **Boxes**, per image, first found of: ``bboxes`` (one two-hand box,
      or several hand boxes whose union is used), ``keypoints_2d`` (the box
      of the valid joints), the detector (``det_model``: union of its
      ``max_hands`` best hand boxes), else the whole image. Boxes are
      clipped to the image; one outside it is refused. With
      ``refine_box=True`` an image that fell back to the whole image is
      run again on the box of the hands HASM found there.
    - **Pipeline**: ``infer_pipeline`` of the config if it has one, else
      its test pipeline without :data:`GT_TRANSFORMS`; nothing in it
      needs ground truth.
    - **Dataset meta**: the checkpoint's if it describes 42 joints, else
      ``InterHand3DDataset``'s (the layout HDR outputs, with its skeleton
      for drawing).
    - **Scale**: with no ground truth, ``bone_length='gt'`` falls back to
      the model's ``bone_length_mm`` (set with ``bone_length_mm``).
    - **Outputs** keep the model's units: per image one instance with
      ``keypoints`` (42, 3) ``u, v`` image pixels + root-relative depth
      mm, ``keypoints_3d`` (42, 3) root-relative mm, ``keypoint_scores``
      (42,) (0 for a hand not found), ``hand_type`` (2,) and ``bbox`` (4,)
      the two-hand box; an image where neither hand is found has no
      instance. With ``return_datasamples=True`` the samples also carry
      the model's ``hand_crops``/``tdr_crops`` and ``pred_fields.
      hand_masks``.

    Args:
        model: HDR pipeline config (file, ``Config`` or dict).
        weights: Combined pipeline checkpoint
            (``combine_stage_checkpoints``); None keeps the stages'
            own checkpoints/initialisation from the config.
        device: Torch device; default: CUDA if available.
        scope: Registry scope.
        det_model: mmdet config (or alias) of a hand detector; None or
            ``'whole_image'``: no detector.
        det_weights: Its checkpoint.
        det_cat_ids: Hand category id(s) of the detector.
        show_progress: Show a progress bar.
        bone_length_mm: Wrist-to-middle-MCP length (mm) that scales the
            3D joints; default the model's ``bone_length_mm``.
        max_hands: How many of the best detected boxes form the two-hand
            box.
        unsafe_load: Read ``weights``, the stage and detector checkpoints
            with a full unpickle instead of the weights-only load. A
            checkpoint can then run arbitrary code: only for files of a
            trusted origin that the weights-only load refuses.

    Raises:
        FileNotFoundError: the config or checkpoint file does not exist.
        ConfigCheckError: a ``type`` of the config is not registered.
        UnsafeCheckpointError: a checkpoint holds objects that a
            weights-only load refuses (and ``unsafe_load`` is False).
    """

    preprocess_kwargs: set = {'bbox_thr', 'nms_thr', 'bboxes',
                              'keypoints_2d'}
    forward_kwargs: set = {'refine_box'}
    visualize_kwargs: set = {
        'return_vis', 'show', 'wait_time', 'draw_bbox', 'radius',
        'thickness', 'kpt_thr', 'vis_out_dir', 'num_instances'
    }
    postprocess_kwargs: set = {'pred_out_dir', 'return_datasample'}

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
                 max_hands: int = 2,
                 unsafe_load: bool = False) -> None:
        if isinstance(model, str) and not osp.isfile(model):
            raise FileNotFoundError(f'HDR config file not found: {model}')
        model = check_inference_config(model)
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(f'HDR checkpoint not found: {weights}')
        if max_hands < 1:
            raise ValueError(f'max_hands must be >= 1, got {max_hands}')
        init_default_scope(scope)
        # Hand3DInferencer.__init__ would pick a detector from
        # ``dataset_type``; the model, pipeline and visualizer are built by
        # the common base, the rest is done here
        with checkpoint_loading(unsafe=unsafe_load):
            BaseMMPoseInferencer.__init__(
                self,
                model=model,
                weights=weights,
                device=device,
                scope=scope,
                show_progress=show_progress)
        if type(self.model).__name__ != 'HDRPoseEstimator':
            print_log(
                f'HDRInferencer: the model is a {type(self.model).__name__},'
                ' not an HDRPoseEstimator; its outputs must follow the same '
                'layout', logger='current', level=logging.WARNING)
        self.model = revert_sync_batchnorm(self.model)
        if bone_length_mm is not None:
            if not bone_length_mm > 0:
                raise ValueError('bone_length_mm must be > 0, got '
                                 f'{bone_length_mm}')
            self.model.bone_length_mm = float(bone_length_mm)
        self.visualizer.set_dataset_meta(self.model.dataset_meta)
        self.max_hands = int(max_hands)
        self.det_cat_ids = tuple(det_cat_ids) if isinstance(
            det_cat_ids, (tuple, list)) else (det_cat_ids, )
        if det_model is None or det_model in ('whole_image', 'whole-image'):
            self.detector = None
        else:
            # mmpose only reads dataset_type to choose a default detector;
            # with det_model given it is not used for anything else
            self.cfg.setdefault('dataset_type', 'InterHand3DDataset')
            with checkpoint_loading(unsafe=unsafe_load):
                self._init_detector(
                    det_model=det_model,
                    det_weights=det_weights,
                    det_cat_ids=det_cat_ids,
                    device=device)
        self._video_input = False
        self._buffer = defaultdict(list)

    # ------------------------------------------------------------------
    # building
    def _load_weights_to_model(self, model: torch.nn.Module,
                               checkpoint: Optional[dict],
                               cfg: Optional[Config]) -> None:
        """Load the combined checkpoint and set the 42-joint dataset meta.

        The model refuses a checkpoint that does not cover its stages
        exactly (``HDRPoseEstimator._check_checkpoint_keys``).
        """
        meta = None
        if checkpoint is not None:
            _load_checkpoint_to_model(model, checkpoint)
            meta = checkpoint.get('meta', {}).get('dataset_meta')
        else:
            print_log(
                'HDRInferencer: no pipeline checkpoint given; each stage '
                'keeps what its config loads (its own checkpoint or a '
                'random initialisation)',
                logger='current',
                level=logging.WARNING)
        if not meta or meta.get('num_keypoints') != 2 * NUM_HAND_JOINTS:
            meta = parse_pose_metainfo(InterHand3DDataset.METAINFO)
        model.dataset_meta = meta

    def _init_pipeline(self, cfg: Config) -> Compose:
        """The inference pipeline (see the class docstring)."""
        scope = cfg.get('default_scope', 'mmpose')
        if scope is not None:
            init_default_scope(scope)
        if cfg.get('infer_pipeline') is not None:
            transforms = list(cfg.infer_pipeline)
        else:
            try:
                transforms = list(cfg.test_dataloader.dataset.pipeline)
            except AttributeError:
                raise KeyError(
                    'HDRInferencer: the config has neither `infer_pipeline` '
                    'nor `test_dataloader.dataset.pipeline`') from None
            transforms = [
                t for t in transforms
                if _bare_type(t['type']) not in GT_TRANSFORMS
            ]
        names = [_bare_type(t['type']) for t in transforms]
        for needed in ('GetBBoxCenterScale', 'TopdownAffine'):
            if needed not in names:
                raise KeyError(
                    f'HDRInferencer: the inference pipeline {names} has no '
                    f'{needed}: HDR needs the two-hand crop')
        return Compose(transforms)

    def _init_collate(self, cfg: Config) -> Callable:
        """``pseudo_collate`` (what mmengine falls back to for mmpose
        configs, here without searching a registry mmpose does not have).
        """
        return pseudo_collate

    def _init_visualizer(self, cfg: Config) -> HDRHandVisualizer:
        """The config's visualizer if it is an :class:`HDRHandVisualizer`;
        mmpose's ``Pose3dLocalVisualizer`` (or none) is replaced by one
        with the same settings (see the visualizer's docstring)."""
        vis_cfg = cfg.get('visualizer') or dict(
            vis_backends=[dict(type='LocalVisBackend')])
        vis_cfg = ConfigDict(vis_cfg)
        vis_type = vis_cfg.get('type', 'Pose3dLocalVisualizer')
        if not (isinstance(vis_type, type)
                and issubclass(vis_type, HDRHandVisualizer)) and \
                _bare_type(vis_type) != 'HDRHandVisualizer':
            vis_cfg.type = 'HDRHandVisualizer'
        cfg.visualizer = vis_cfg
        vis = super()._init_visualizer(cfg)
        if not isinstance(vis, HDRHandVisualizer):
            raise TypeError('HDRInferencer needs an HDRHandVisualizer, the '
                            f'config builds a {type(vis).__name__}')
        return vis

    # ------------------------------------------------------------------
    # inputs
    def _inputs_to_list(self, inputs: Union[InputType, Sequence]
                        ) -> Iterable:
        """Image file, folder, array or list of them -> list of inputs.

        Raises:
            FileNotFoundError: a path does not exist.
            ValueError: a folder has no image.
        """
        self._video_input = False
        if isinstance(inputs, str):
            if inputs.startswith('webcam'):
                return super()._inputs_to_list(inputs)
            if not osp.exists(inputs):
                raise FileNotFoundError(f'input not found: {inputs}')
            if osp.isdir(inputs):
                files = sorted(
                    osp.join(inputs, f) for f in os.listdir(inputs)
                    if osp.isfile(osp.join(inputs, f)) and (
                        f.lower().endswith(IMAGE_SUFFIXES) or (
                            mimetypes.guess_type(f)[0] or '').startswith(
                                'image/')))
                if not files:
                    raise ValueError(f'no image file in folder {inputs}')
                return files
            kind = (mimetypes.guess_type(inputs)[0] or '').split('/')[0]
            if kind == 'video':
                return super()._inputs_to_list(inputs)
            return [inputs]  # any other file is tried as an image
        if isinstance(inputs, np.ndarray):
            return [inputs]
        return list(inputs)

    def preprocess(self,
                   inputs: Iterable,
                   batch_size: int = 1,
                   bboxes: Optional[Sequence] = None,
                   keypoints_2d: Optional[Sequence] = None,
                   bbox_thr: float = 0.3,
                   nms_thr: float = 0.3,
                   **kwargs):
        """Per image: find the two-hand box and run the pipeline.

        Args:
            inputs: From :meth:`_inputs_to_list`.
            batch_size: Ignored: one image at a time, as in mmpose.
            bboxes: One entry per image: a two-hand box ``x1, y1, x2, y2``
                (4,) or hand boxes (N, 4) / (N, 5) whose union is used;
                None or an empty entry: no box for that image.
            keypoints_2d: One entry per image: (K, 2) or (K, 3) joints
                (third column > 0 marks valid ones) whose box is used.
            bbox_thr: Detector score threshold.
            nms_thr: Detector box NMS threshold.

        Yields:
            tuple: collated batch and ``[input]``.

        Raises:
            ValueError: ``bboxes``/``keypoints_2d`` do not have one entry
                per image.
        """
        n = len(inputs) if hasattr(inputs, '__len__') else None
        for name, per_image in (('bboxes', bboxes),
                                ('keypoints_2d', keypoints_2d)):
            if per_image is not None and n is not None and \
                    len(per_image) != n:
                raise ValueError(
                    f'{name} must have one entry per input image ({n}), '
                    f'got {len(per_image)}; for one image pass '
                    f'{name}=[value]')
        for i, single in enumerate(inputs):
            data_infos = self.preprocess_single(
                single,
                index=i,
                bbox_thr=bbox_thr,
                nms_thr=nms_thr,
                bboxes=None if bboxes is None else bboxes[i],
                keypoints_2d=None if keypoints_2d is None else
                keypoints_2d[i])
            yield self.collate_fn(data_infos), [single]

    def _detect_hands(self, img: np.ndarray, bbox_thr: float,
                      nms_thr: float) -> np.ndarray:
        """Hand boxes from the detector, best first.

        Returns:
            np.ndarray: (N, 5) ``x1, y1, x2, y2, score``, at most
            ``max_hands`` rows.
        """
        det = self.detector(img, return_datasamples=True)['predictions']
        inst = det[0].pred_instances.cpu().numpy()
        boxes = np.concatenate([inst.bboxes, inst.scores[:, None]], axis=1)
        keep = np.zeros(len(boxes), bool)
        for cat_id in self.det_cat_ids:
            keep |= inst.labels == cat_id
        boxes = boxes[keep & (inst.scores > bbox_thr)]
        if len(boxes):
            boxes = boxes[nms(boxes, nms_thr)]
            boxes = boxes[np.argsort(-boxes[:, 4])][:self.max_hands]
        return boxes

    def hand_box(self,
                 img: np.ndarray,
                 name: str,
                 bboxes: Optional[Any] = None,
                 keypoints_2d: Optional[Any] = None,
                 bbox_thr: float = 0.3,
                 nms_thr: float = 0.3) -> Tuple[np.ndarray, str]:
        """The two-hand box of one image (order: see the class docstring).

        Args:
            img: (H, W, 3) image.
            name: Its name for error messages.
            bboxes: User box(es) of this image, or None.
            keypoints_2d: User joints of this image, or None.
            bbox_thr: Detector score threshold.
            nms_thr: Detector NMS threshold.

        Returns:
            tuple: (4,) float32 box clipped to the image, and its source
            (``'bboxes'``, ``'keypoints_2d'``, ``'detector'``, ``'image'``).
        """
        h, w = img.shape[:2]
        box, source = None, 'image'
        if bboxes is not None and np.size(bboxes) > 0:
            arr = np.asarray(bboxes, np.float32)
            arr = arr.reshape(1, -1) if arr.ndim == 1 else arr
            if arr.ndim != 2 or arr.shape[1] not in (4, 5):
                raise ValueError(
                    f'{name}: bboxes must be x1, y1, x2, y2 (4,) or '
                    f'(N, 4)/(N, 5) boxes, got shape {np.shape(bboxes)}')
            box, source = union_box(arr), 'bboxes'
        elif keypoints_2d is not None and np.size(keypoints_2d) > 0:
            box = keypoints_box(keypoints_2d, f'{name}: keypoints_2d')
            source = 'keypoints_2d'
            # joints lie on the hands: keep a 1-pixel box valid
            box = box + np.array([-0.5, -0.5, 0.5, 0.5], np.float32)
        elif self.detector is not None:
            # detections are clipped quietly; those outside are dropped
            boxes = self._detect_hands(img, bbox_thr, nms_thr)[:, :4]
            boxes = np.clip(boxes, 0, [w, h, w, h])
            boxes = boxes[(boxes[:, 2] - boxes[:, 0] >= 1)
                          & (boxes[:, 3] - boxes[:, 1] >= 1)]
            if len(boxes):
                box, source = union_box(boxes), 'detector'
        if box is None:
            return np.array([0, 0, w, h], np.float32), source
        return clip_box(box, w, h, name), source

    def preprocess_single(self,
                          input: InputType,
                          index: int,
                          bbox_thr: float = 0.3,
                          nms_thr: float = 0.3,
                          bboxes: Optional[Any] = None,
                          keypoints_2d: Optional[Any] = None
                          ) -> List[dict]:
        """Read one image, find its two-hand box, run the pipeline.

        Args:
            input: Image file or (H, W, 3) BGR array.
            index: Its position in the inputs (names arrays).
            bbox_thr: Detector score threshold.
            nms_thr: Detector NMS threshold.
            bboxes: User box(es) of this image.
            keypoints_2d: User joints of this image.

        Returns:
            list[dict]: one pipeline output.

        Raises:
            FileNotFoundError, ValueError: unreadable image or bad box,
            naming the image.
        """
        if isinstance(input, str):
            img, name = read_image(input), input
        elif isinstance(input, np.ndarray):
            name = f'input #{index}'
            if input.ndim != 3 or input.shape[2] != 3 or input.size == 0:
                raise ValueError(f'{name}: expected an (H, W, 3) BGR image '
                                 f'array, got shape {input.shape}')
            img = input
        else:
            raise TypeError(f'input #{index}: expected an image path or '
                            f'array, got {type(input).__name__}')
        box, source = self.hand_box(img, name, bboxes, keypoints_2d,
                                    bbox_thr, nms_thr)
        data_info = dict(
            img=img,
            img_path=input if isinstance(input, str) else
            f'{index}.jpg'.rjust(10, '0'),
            bbox=box[None],
            bbox_score=np.ones(1, np.float32))
        data_info.update(self.model.dataset_meta)
        packed = self.pipeline(data_info)
        packed['data_samples'].set_metainfo(dict(box_source=source))
        self._buffer['last_input'] = (input, index)
        self._buffer['last_image'] = img
        return [packed]

    # ------------------------------------------------------------------
    # running
    @staticmethod
    def _empty_instances() -> InstanceData:
        """Predictions of an image where no hand was found."""
        k = 2 * NUM_HAND_JOINTS
        return InstanceData(
            keypoints=np.zeros((0, k, 3), np.float32),
            keypoints_3d=np.zeros((0, k, 3), np.float32),
            keypoint_scores=np.zeros((0, k), np.float32),
            hand_type=np.zeros((0, 2), np.float32),
            rel_root_depth=np.zeros((0, ), np.float32),
            bboxes=np.zeros((0, 4), np.float32))

    def _mask_box(self, sample: PoseDataSample) -> Optional[np.ndarray]:
        """Box in image pixels of HASM's amodal masks of the hands found.

        Args:
            sample: A model output with ``pred_fields.hand_masks``
                (4, S, S) on the two-hand crop, metainfo ``mask_names``,
                ``input_center`` and ``input_scale``.

        Returns:
            np.ndarray or None: (4,) ``x1, y1, x2, y2``; None when no hand
            was found or the masks are missing.
        """
        fields = sample.get('pred_fields', None)
        names = list(sample.metainfo.get('mask_names', ()))
        hand_type = np.asarray(sample.pred_instances.hand_type).reshape(-1)
        if fields is None or 'hand_masks' not in fields:
            return None
        masks = fields.hand_masks
        masks = masks.cpu().numpy() if hasattr(masks, 'cpu') else \
            np.asarray(masks)
        union = np.zeros(masks.shape[1:], bool)
        for h, name in enumerate(('r_amodal', 'l_amodal')):
            if hand_type[h] > 0 and name in names:
                union |= masks[names.index(name)] > 0.5
        if not union.any():
            return None
        ys, xs = np.nonzero(union)
        box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                       np.float32)
        size = masks.shape[-1]
        centre = np.asarray(sample.metainfo['input_center'], np.float32)
        scale = np.asarray(sample.metainfo['input_scale'], np.float32)
        # two-hand crop pixels -> image pixels (TopdownAffine's mapping)
        return (box.reshape(2, 2) / size * scale + centre -
                scale / 2).reshape(4)

    def _refine(self, sample: PoseDataSample) -> PoseDataSample:
        """Run once more on the box of HASM's masks (see ``refine_box``).

        Only for a sample whose box was the whole image and where a hand
        was found; the input is the one :meth:`preprocess_single` read
        last (one image per batch).
        """
        if sample.metainfo.get('box_source') != 'image':
            return sample
        box = self._mask_box(sample)
        last = self._buffer.get('last_input')
        if box is None or last is None:
            return sample
        single, index = last
        img = self._buffer['last_image']
        h, w = img.shape[:2]
        box = np.array([max(box[0], 0), max(box[1], 0), min(box[2], w),
                        min(box[3], h)], np.float32)
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            return sample
        data = self.collate_fn(
            self.preprocess_single(single, index, bboxes=box))
        refined = self.model.test_step(data)[0]
        refined.set_metainfo(dict(box_source='hand_masks'))
        return refined

    @torch.no_grad()
    def forward(self, inputs: Union[dict, tuple],
                refine_box: bool = False) -> List[PoseDataSample]:
        """Run the model; keep its units; empty predictions without hands.

        Args:
            inputs: A collated batch.
            refine_box: Where the box was the whole image (no box, joints
                or detection given), run a second time with the box of
                the hands that HASM found (the union of their amodal
                masks), so the two-hand crop frames the hands as in
                training. Doubles the time of such images.

        Returns:
            list[PoseDataSample]: one per image. ``pred_instances`` has one
            instance (see the class docstring) or none; the 2D skeletons
            for drawing go to ``self._buffer['pose2d_results']``.
        """
        data_samples = self.model.test_step(inputs)
        if refine_box:
            data_samples = [self._refine(s) for s in data_samples]
        for sample in data_samples:
            pred = sample.pred_instances
            hand_type = np.asarray(pred.hand_type, np.float32)
            if not (hand_type > 0).any():
                sample.pred_instances = self._empty_instances()
            else:
                scores = np.asarray(pred.keypoint_scores, np.float32).copy()
                scores[:, :NUM_HAND_JOINTS] *= hand_type[:, [0]] > 0
                scores[:, NUM_HAND_JOINTS:] *= hand_type[:, [1]] > 0
                pred.keypoint_scores = scores
                gt = sample.get('gt_instances', InstanceData())
                if 'bboxes' in gt:
                    pred.bboxes = np.asarray(gt.bboxes, np.float32)[:1]
        # mmpose's visualize draws 2D from this buffer (one image per call)
        last = data_samples[-1]
        pose2d = PoseDataSample(metainfo=last.metainfo)
        inst = last.pred_instances.clone()
        inst.keypoints = np.asarray(inst.keypoints)[..., :2].copy()
        pose2d.pred_instances = inst
        self._buffer['pose2d_results'] = pose2d
        return data_samples

    def visualize(self,
                  inputs: list,
                  preds: List[PoseDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  draw_bbox: bool = False,
                  wait_time: float = 0,
                  radius: int = 3,
                  thickness: int = 1,
                  kpt_thr: float = 0.0,
                  num_instances: int = 1,
                  vis_out_dir: str = '',
                  window_name: str = '') -> List[np.ndarray]:
        """Draw the image with the 2D skeletons next to each hand's 3D
        skeleton (``Hand3DInferencer.visualize`` with the
        :class:`HDRHandVisualizer`); arguments as there, but ``kpt_thr``
        defaults to 0: HDR predicts every joint of a hand it found, and the
        scores (SHPE heat-map peaks) say little about a joint's error.

        Returns:
            list[np.ndarray]: RGB drawings if ``return_vis``, else [].
        """
        out = super().visualize(
            inputs,
            preds,
            return_vis=return_vis,
            show=show,
            draw_bbox=draw_bbox,
            wait_time=wait_time,
            radius=radius,
            thickness=thickness,
            kpt_thr=kpt_thr,
            num_instances=num_instances,
            vis_out_dir=vis_out_dir,
            window_name=window_name)
        return out if out is not None else []

    @staticmethod
    def instances_to_dicts(instances: InstanceData) -> List[Dict]:
        """JSON-ready predictions of one image.

        Args:
            instances: ``pred_instances`` from :meth:`forward`.

        Returns:
            list[dict]: per instance ``keypoints`` (42x3), ``keypoints_3d``
            (42x3), ``keypoint_scores`` (42), ``hand_type`` (2) and, if
            known, ``bbox`` (4), as lists.
        """
        results = []
        for i in range(len(instances)):
            item = {}
            for key in ('keypoints', 'keypoints_3d', 'keypoint_scores',
                        'hand_type'):
                if key in instances:
                    item[key] = np.asarray(instances[key][i]).tolist()
            if 'bboxes' in instances:
                item['bbox'] = np.asarray(instances.bboxes[i]).tolist()
            results.append(item)
        return results

    def postprocess(self,
                    preds: List[PoseDataSample],
                    visualization: List[np.ndarray],
                    return_datasample: Optional[bool] = None,
                    return_datasamples: bool = False,
                    pred_out_dir: str = '') -> dict:
        """Pack (and optionally write) the predictions.

        Args:
            preds: From :meth:`forward`.
            visualization: From :meth:`visualize`.
            return_datasample: Deprecated spelling of
                ``return_datasamples``.
            return_datasamples: Return the ``PoseDataSample`` objects
                instead of dicts.
            pred_out_dir: Write ``<image stem>.json`` per image there.

        Returns:
            dict: ``visualization`` and ``predictions`` (per image: a list
            of instance dicts, see :meth:`instances_to_dicts`, or the
            sample).
        """
        if return_datasample is not None:
            return_datasamples = return_datasample
        result = defaultdict(list)
        result['visualization'] = visualization
        for pred in preds:
            dicts = self.instances_to_dicts(pred.pred_instances)
            result['predictions'].append(
                pred if return_datasamples else dicts)
            if pred_out_dir:
                if self._video_input:
                    self.video_info['predictions'].append(dicts)
                else:
                    stem = osp.splitext(osp.basename(
                        pred.metainfo['img_path']))[0]
                    mmengine.mkdir_or_exist(pred_out_dir)
                    mmengine.dump(
                        dicts, join_path(pred_out_dir, stem + '.json'),
                        indent='  ')
        return result
