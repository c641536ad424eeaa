"""From an mmdet hand detector's output to HDR's inputs.

HDR runs on one crop around both hands, so from a detector it needs at
most two hand boxes, one per side. Two kinds of detector are handled:

- **hand-side detectors**, whose classes name the side (``right``,
  ``left``; e.g. ``projects/rtmdet_hand_side``): the best box of each
  side above the score threshold, so the classes also give HDR's
  ``hand_type``;
- **single-class hand detectors** (mmpose's published RTMDet hand
  detector, class ``hand``; or any detector whose classes do not name
  both sides): the two best boxes, side unknown (``'hand'``); HDR's HASM
  then tells the sides apart on the crop.

In both, a box that overlaps an already chosen one by more than
``same_hand_iou`` is taken for the same hand seen twice (e.g. once as
right and once as left) and skipped. No box above the threshold gives an
empty :class:`DetectedHands` (no crash), one box a one-hand result, more
than two boxes the best per side.

Example::

    detector = build_hand_detector(
        'projects/rtmdet_hand_side/configs/'
        'rtmdet_nano_1xb16-24e_synthetic-hand-side-256.py', 'det.pth')
    hands = detect_hands(detector, 'frame.jpg', score_thr=0.3)
    hands.union_box    # (4,) two-hand box for HDR, or None
    hands.hand_type    # (2,) [right found, left found]
"""
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log
from mmpose.structures.bbox import bbox_clip_border

from hdr_mm.structures import HANDS as HAND_SIDES
from hdr_mm.structures import bbox_iou, union_bbox
#: side of a box from a detector whose classes do not name the side
UNKNOWN_SIDE = 'hand'


@dataclass
class DetectedHands:
    """Hands chosen from one image's detections.

    Attributes:
        bboxes: (K, 4) float32 ``x1, y1, x2, y2`` image pixels, K <= 2;
            right first, then left (hand-side detectors), else best first.
        scores: (K,) float32 detection scores.
        sides: K entries, ``'right'``, ``'left'`` or ``'hand'`` (side
            unknown).
    """
    bboxes: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(
        default_factory=lambda: np.zeros((0, ), np.float32))
    sides: Tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.sides)

    @property
    def is_empty(self) -> bool:
        """No hand was found."""
        return len(self) == 0

    @property
    def union_box(self) -> Optional[np.ndarray]:
        """(4,) float32 box around all hands (HDR's two-hand box), or
        None when no hand was found."""
        return None if self.is_empty else union_bbox(self.bboxes)

    @property
    def hand_type(self) -> Optional[np.ndarray]:
        """(2,) float32 ``[right, left]`` presence as HDR's ``hand_type``;
        None when a side is unknown (single-class detector)."""
        if UNKNOWN_SIDE in self.sides:
            return None
        return np.array([float(s in self.sides) for s in HAND_SIDES],
                        np.float32)

    def box_of(self, side: str) -> Optional[np.ndarray]:
        """(4,) box of ``'right'`` or ``'left'``, None if not found."""
        return self.bboxes[self.sides.index(side)].copy() \
            if side in self.sides else None

    def to_array(self) -> np.ndarray:
        """(K, 5) ``x1, y1, x2, y2, score`` (the inferencer's ``bboxes``
        input)."""
        return np.concatenate([self.bboxes, self.scores[:, None]],
                              axis=1).astype(np.float32)


def hand_side_labels(classes: Optional[Sequence[str]]
                     ) -> Optional[Dict[str, int]]:
    """Labels of the right and left class in a detector's class names.

    A name is a side when, split at spaces, ``_`` and ``-``, it holds
    ``right`` (or ``left``) and not the other (``'right'``,
    ``'right_hand'``, ``'Left hand'``).

    Args:
        classes: The detector's ``dataset_meta['classes']``.

    Returns:
        dict or None: ``{'right': label, 'left': label}`` when both sides
        are named exactly once, else None (a single-class detector).
    """
    if not classes:
        return None
    found: Dict[str, list] = {s: [] for s in HAND_SIDES}
    for label, name in enumerate(classes):
        words = set(str(name).lower().replace('_', ' ').replace(
            '-', ' ').split())
        sides = [s for s in HAND_SIDES if s in words]
        if len(sides) == 1:
            found[sides[0]].append(label)
    if all(len(v) == 1 for v in found.values()):
        return {s: v[0] for s, v in found.items()}
    return None


def _to_numpy(x: Any) -> np.ndarray:
    """A tensor, array or list as an array (mmpose's ``to_numpy``
    refuses lists)."""
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def select_hands(pred_instances: Any,
                 classes: Optional[Sequence[str]] = None,
                 score_thr: float = 0.3,
                 hand_labels: Optional[Sequence[int]] = None,
                 max_hands: int = 2,
                 same_hand_iou: float = 0.8,
                 image_shape: Optional[Tuple[int, int]] = None
                 ) -> DetectedHands:
    """Choose HDR's hands from one image's detections.

    Args:
        pred_instances: mmdet's ``pred_instances`` (``InstanceData`` with
            ``bboxes`` (N, 4), ``scores`` (N,), ``labels`` (N,); tensors
            or arrays), a ``DetDataSample`` holding them, or a dict with
            those keys.
        classes: The detector's class names
            (``model.dataset_meta['classes']``). When they name ``right``
            and ``left`` (:func:`hand_side_labels`) the best box per side
            is kept; otherwise the detector is taken as single-class.
        score_thr: Boxes scoring at most this are dropped.
        hand_labels: Single-class mode only: the labels that are hands
            (default: every label).
        max_hands: Single-class mode only: how many boxes to keep.
        same_hand_iou: A box overlapping a chosen box by more than this
            IoU is the same hand again and is skipped.
        image_shape: ``(height, width)``: boxes are clipped to it and
            boxes left with no area dropped.

    Returns:
        DetectedHands: 0 to 2 hands (empty when nothing passes).
    """
    if hasattr(pred_instances, 'pred_instances'):
        pred_instances = pred_instances.pred_instances
    get = (pred_instances.get if isinstance(pred_instances, dict) else
           lambda k: getattr(pred_instances, k, None))
    bboxes, scores, labels = (get(k) for k in ('bboxes', 'scores',
                                               'labels'))
    if bboxes is None or scores is None:
        raise ValueError('select_hands: the detections need `bboxes` and '
                         '`scores`')
    bboxes = _to_numpy(bboxes).astype(np.float32).reshape(-1, 4)
    scores = _to_numpy(scores).astype(np.float32).reshape(-1)
    labels = (np.zeros(len(scores), np.int64) if labels is None else
              _to_numpy(labels).astype(np.int64).reshape(-1))
    if not len(bboxes) == len(scores) == len(labels):
        raise ValueError(
            f'select_hands: {len(bboxes)} boxes, {len(scores)} scores and '
            f'{len(labels)} labels')
    if image_shape is not None:
        bboxes = bbox_clip_border(bboxes, image_shape[1::-1])
    ok = (np.isfinite(bboxes).all(1) & np.isfinite(scores)
          & (bboxes[:, 2] > bboxes[:, 0]) & (bboxes[:, 3] > bboxes[:, 1])
          & (scores > score_thr))

    side_labels = hand_side_labels(classes)
    if side_labels is not None:
        label_side = {v: k for k, v in side_labels.items()}
        ok &= np.isin(labels, list(label_side))
        wanted = len(HAND_SIDES)
    else:
        if hand_labels is not None:
            ok &= np.isin(labels, np.asarray(hand_labels))
        wanted = max_hands
    order = np.flatnonzero(ok)[np.argsort(-scores[ok], kind='stable')]

    chosen, sides = [], []
    for i in order:
        if len(chosen) == wanted:
            break
        side = (label_side[labels[i]] if side_labels is not None else
                UNKNOWN_SIDE)
        if side != UNKNOWN_SIDE and side in sides:
            continue
        if chosen and bbox_iou(bboxes[i], bboxes[chosen]).max() > \
                same_hand_iou:
            continue
        chosen.append(i)
        sides.append(side)
    if side_labels is not None:  # right first, then left
        pairs = sorted(zip(sides, chosen), key=lambda p: HAND_SIDES.index(
            p[0]))
        sides = [p[0] for p in pairs]
        chosen = [p[1] for p in pairs]
    idx = np.asarray(chosen, np.int64)
    return DetectedHands(bboxes=bboxes[idx].reshape(-1, 4),
                         scores=scores[idx].reshape(-1),
                         sides=tuple(sides))


def build_hand_detector(config: Union[str, Any],
                        checkpoint: Optional[str] = None,
                        device: str = 'cpu',
                        allow_random_weights: bool = False,
                        unsafe_load: bool = False) -> Any:
    """Build an mmdet detector for :func:`detect_hands`.

    A detector without weights finds nothing useful, so ``checkpoint``
    is required unless ``allow_random_weights`` (tests, speed checks).
    The checkpoint is read weights-only and must fit the model exactly
    (:func:`~hdr_mm.utils.model_weights.load_weights`): a checkpoint of
    another model is refused rather than leaving random weights.
    When the checkpoint carries no class names (or there is none), the
    names are taken from the config's test dataset ``metainfo`` if their
    number matches the head's ``num_classes``, so that a hand-side config
    keeps its ``right``/``left`` classes.

    Args:
        config: mmdet config file or ``Config`` (e.g. this project's
            ``projects/rtmdet_hand_side/configs/*.py`` or mmpose's
            ``rtmdet_nano_320-8xb32_hand.py``).
        checkpoint: Weights file.
        device: Torch device.
        allow_random_weights: Build with random weights when
            ``checkpoint`` is None (with a warning).
        unsafe_load: Read ``checkpoint`` with a full unpickle (a crafted
            file can then run arbitrary code).

    Returns:
        torch.nn.Module: The detector in eval mode, with ``cfg`` and
        ``dataset_meta``.

    Raises:
        FileNotFoundError: the config or checkpoint file does not exist.
        ConfigFileError: the config cannot be read or has no ``model``.
        ValueError: no checkpoint and ``allow_random_weights`` is False.
        UnsafeCheckpointError: the checkpoint holds objects a weights-only
            load refuses.
        CheckpointMismatchError: the checkpoint does not fit the detector
            (naming the file and a few keys).
    """
    from mmdet.apis import init_detector

    from hdr_mm.utils.model_weights import load_weights
    from hdr_mm.utils.user_files import read_config, require_file
    if checkpoint is None and not allow_random_weights:
        raise ValueError(
            'a hand detector needs its weights: pass the checkpoint trained '
            'with this config (e.g. projects/rtmdet_hand_side/README.md), or '
            'allow_random_weights=True for a test')
    if checkpoint is not None:
        require_file(checkpoint, 'detector checkpoint')
    cfg = read_config(config, 'detector config') if isinstance(
        config, str) else config
    if checkpoint is None:
        print_log('build_hand_detector: no checkpoint, the detector has '
                  'random weights', logger='current',
                  level=logging.WARNING)
    with warnings.catch_warnings():  # 'use COCO classes': set below
        warnings.simplefilter('ignore')
        model = init_detector(cfg, None, device=device)
    if checkpoint is not None:
        meta = load_weights(model, checkpoint, 'detector checkpoint',
                            f'the detector of {cfg.filename}',
                            unsafe_load).get('meta') or {}
        classes = {k.lower(): v for k, v in (
            meta.get('dataset_meta') or {}).items()}.get(
                'classes', meta.get('CLASSES'))
        if classes:
            model.dataset_meta = dict(model.dataset_meta or {},
                                      classes=tuple(classes))
    names = _config_classes(model.cfg)
    num_classes = _num_classes(model.cfg)
    meta_classes = (model.dataset_meta or {}).get('classes')
    if names is not None and len(names) == num_classes and (
            meta_classes is None or len(meta_classes) != num_classes):
        model.dataset_meta = dict(model.dataset_meta or {},
                                  classes=tuple(names))
    return model


def _config_classes(cfg: Any) -> Optional[Tuple[str, ...]]:
    """Class names in the config's test (or val) dataset metainfo."""
    for key in ('test_dataloader', 'val_dataloader'):
        try:
            names = cfg[key]['dataset']['metainfo']['classes']
        except (KeyError, TypeError):
            continue
        if names:
            return tuple(names)
    return None


def _num_classes(cfg: Any) -> Optional[int]:
    try:
        return int(cfg.model.bbox_head.num_classes)
    except (AttributeError, KeyError, TypeError):
        return None


def detect_hands(detector: Any,
                 img: Union[str, np.ndarray],
                 score_thr: float = 0.3,
                 **kwargs) -> DetectedHands:
    """Run an mmdet detector on one image and choose HDR's hands.

    Args:
        detector: From :func:`build_hand_detector` (or mmdet's
            ``init_detector``).
        img: Image file or (H, W, 3) BGR array.
        score_thr: See :func:`select_hands`.
        **kwargs: Other :func:`select_hands` arguments.

    Returns:
        DetectedHands: see :func:`select_hands`.
    """
    from mmdet.apis import inference_detector
    from mmengine.registry import DefaultScope

    # the detector's pipeline is built in its own scope, whatever scope
    # the caller runs in (HDR's is mmpose)
    cfg = getattr(detector, 'cfg', None)
    scope = (cfg.get('default_scope', None) if cfg is not None else None) \
        or 'mmdet'
    with DefaultScope.overwrite_default_scope(scope):
        result = inference_detector(detector, img)
    classes = (getattr(detector, 'dataset_meta', None) or {}).get('classes')
    kwargs.setdefault('image_shape', result.metainfo.get('ori_shape'))
    return select_hands(result, classes=classes, score_thr=score_thr,
                        **kwargs)
