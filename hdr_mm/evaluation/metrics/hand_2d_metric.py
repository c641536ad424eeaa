"""2D joint error and PCK of each hand, split single vs interacting.

HDR's pipeline outputs the 2D joints of both hands in one 42-joint
instance per frame (right hand first). With a 2D-only SHPE that is all
it predicts, so its accuracy is measured in the image:

- **EPE** (end-point error): the Euclidean distance in pixels between a
  predicted and a ground-truth joint, averaged over the annotated joints;
- **PCK@thr**: the fraction of annotated joints whose distance is below
  ``thr`` times the size of *their own hand's* box, the longer side of the
  box of that hand's annotated ground-truth 2D joints (as mmpose's
  ``PCKAccuracy`` with ``norm_item='bbox'`` on a single-hand dataset whose
  box is the joints' box).

mmpose's ``PCKAccuracy`` / ``EPE`` cannot score these frames as they are:
they take one box per instance (here the box of both hands, which makes a
hand's threshold depend on where the other hand is), have no single /
interacting split, and would score the placeholder joints of a hand the
pipeline did not find as if they were a prediction.

Missed hands: a hand in the ground truth that the pipeline reports absent
(``pred_instances.hand_type`` 0) has no prediction. Its joints count as
PCK failures (a missed hand is a failure, and PCK stays comparable
between models that miss different hands) and are left out of EPE (a
distance to a non-existent prediction would only measure an arbitrary
placeholder); the number of missed hands is reported beside, so that an
EPE computed on fewer hands is visible as such. Hands that the pipeline
finds but the ground truth lacks are not scored (there is nothing to
compare them with).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from ..functional import (SPLITS, frame_is_interacting, split_masks,
                          write_per_frame)


def hand_2d_errors(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray,
                   num_hands: int) -> Dict[str, np.ndarray]:
    """Per-joint distances and per-hand box sizes of one frame.

    Args:
        pred: (H * J, >=2) predicted joints, hand after hand; only x, y
            are used.
        gt: (H * J, >=2) ground-truth joints, same order.
        visible: (H * J,) annotation validity (> 0.5: annotated).
        num_hands: ``H``.

    Returns:
        dict: ``dist`` (H, J) pixel distances, NaN where not annotated;
        ``box_size`` (H,) the longer side of each hand's annotated joints'
        box (0 for a hand with fewer than two annotated joints).
    """
    pred = np.asarray(pred, np.float64)[:, :2]
    gt = np.asarray(gt, np.float64)[:, :2]
    if pred.shape != gt.shape or len(gt) % num_hands:
        raise ValueError(f'Hand2DMetric: prediction {pred.shape} and ground '
                         f'truth {gt.shape} must match and split into '
                         f'{num_hands} hands')
    vis = np.asarray(visible).reshape(num_hands, -1) > 0.5
    dist = np.linalg.norm(pred - gt, axis=-1).reshape(num_hands, -1)
    dist = np.where(vis, dist, np.nan)
    gt = gt.reshape(num_hands, -1, 2)
    box_size = np.zeros(num_hands)
    for h in range(num_hands):
        if vis[h].sum() >= 2:
            pts = gt[h][vis[h]]
            box_size[h] = (pts.max(0) - pts.min(0)).max()
    return dict(dist=dist, box_size=box_size)


def frame_sums_2d(result: dict, thr: float = 0.2) -> Dict[str, float]:
    """One frame's share of the 2D metrics, so that any set of frames (a
    split, a bootstrap resample) sums to its metrics.

    Args:
        result: One frame as :meth:`Hand2DMetric.process` stores it.
        thr: The PCK threshold, a fraction of the hand's box size.

    Returns:
        dict: ``EPE_sum`` (px) and ``EPE_count`` over the annotated joints
        of the hands found; ``PCK_fail`` (joints beyond the threshold,
        every joint of a missed hand) and ``PCK_count`` over the annotated
        joints of all hands in the ground truth; ``hands`` and ``missed``.
    """
    out = dict(EPE_sum=0.0, EPE_count=0, PCK_fail=0, PCK_count=0, hands=0,
               missed=0)
    for h, size in enumerate(result['box_size']):
        if size <= 0:  # not in the ground truth
            continue
        d = result['dist'][h]
        d = d[np.isfinite(d)]
        out['hands'] += 1
        out['PCK_count'] += len(d)
        if not result['found'][h]:
            out['missed'] += 1
            out['PCK_fail'] += len(d)
            continue
        out['EPE_sum'] += float(d.sum())
        out['EPE_count'] += len(d)
        out['PCK_fail'] += int((d >= thr * size).sum())
    return out


def summarise_2d(results: Sequence[dict], thr: float = 0.2
                 ) -> Dict[str, float]:
    """EPE, PCK and hand counts of per-frame results.

    Args:
        results: One dict per frame, as :meth:`Hand2DMetric.process`
            stores them (``dist`` (H, J), ``box_size`` (H,), ``found``
            (H,), ``interacting``).
        thr: The PCK threshold, a fraction of the hand's box size.

    Returns:
        dict: for each split ``interacting``, ``single``, ``all``:
        ``EPE_<split>`` (px; NaN when no found hand has an annotated joint),
        ``PCK_<split>`` (NaN without ground-truth hands), ``hands_<split>``
        (ground-truth hands scored) and ``missed_<split>`` (those the
        model reported absent).
    """
    sums = [frame_sums_2d(r, thr) for r in results]
    masks = split_masks([r['interacting'] for r in results])
    out = {}
    for split in SPLITS:
        keep = [f for f, m in zip(sums, masks[split]) if m]
        total = {k: sum(f[k] for f in keep) for k in (
            'EPE_sum', 'EPE_count', 'PCK_fail', 'PCK_count', 'hands',
            'missed')}
        out[f'EPE_{split}'] = (total['EPE_sum'] / total['EPE_count']
                               if total['EPE_count'] else float('nan'))
        out[f'PCK_{split}'] = (1 - total['PCK_fail'] / total['PCK_count']
                               if total['PCK_count'] else float('nan'))
        out[f'hands_{split}'] = float(total['hands'])
        out[f'missed_{split}'] = float(total['missed'])
    return out


@METRICS.register_module()
class Hand2DMetric(BaseMetric):
    """2D EPE (px) and PCK of each hand's box, single / interacting / all.

    For HDR's 42-joint frames (``num_hands=2``, InterHand2.6M order, right
    hand first) and for one hand per sample (``num_hands=1``). The
    definitions, and the rule for hands the model missed, are in the
    module docstring. Per sample it reads:

    - ``pred_instances.<pred_key>`` (1, K, 2 or 3): predicted joints in
      image pixels (x, y used);
    - ``pred_instances.hand_type`` (1, H), optional: 0 for a hand the
      model did not find (without it every hand counts as found);
    - ``gt_instances.<gt_key>`` (1, K, 2 or 3) and
      ``gt_instances.keypoints_visible`` (1, K): the ground truth; a hand
      is scored when at least two of its joints are annotated;
    - metainfo ``interacting`` or ``hand_type`` for the split.

    Outputs (prefix ``hand2d``): ``EPE_<split>``, ``PCK_<split>`` and
    the counts ``hands_<split>``, ``missed_<split>`` for ``<split>`` in
    ``interacting``, ``single``, ``all`` (:func:`summarise_2d`).

    With ``per_frame_file``, every frame's share is also written there
    (``.npz``, replaced atomically at each evaluation) for intervals and
    paired comparisons (:mod:`hdr_mm.evaluation.functional.bootstrap`):
    ``frames`` (the samples' ``img_path``), ``interacting`` (bool) and the
    fields of :func:`frame_sums_2d` (``EPE_sum``, ``EPE_count``,
    ``PCK_fail``, ``PCK_count``, ``hands``, ``missed``).

    Args:
        num_hands: Hands per sample; the joints split into equal blocks.
        thr: PCK threshold as a fraction of the hand's box size.
        pred_key: Field of ``pred_instances`` with the 2D joints.
        gt_key: Field of ``gt_instances`` with the 2D joints.
        per_frame_file: Write the per-frame sums there; None writes
            nothing.
        collect_device: See :class:`~mmengine.evaluator.BaseMetric`.
        prefix: See :class:`~mmengine.evaluator.BaseMetric`.
    """

    default_prefix: Optional[str] = 'hand2d'

    def __init__(self,
                 num_hands: int = 2,
                 thr: float = 0.2,
                 pred_key: str = 'keypoints',
                 gt_key: str = 'keypoints',
                 per_frame_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if num_hands < 1 or not thr > 0:
            raise ValueError('Hand2DMetric: need num_hands >= 1 and thr > 0, '
                             f'got {num_hands}, {thr}')
        self.num_hands = int(num_hands)
        self.thr = float(thr)
        self.pred_key = pred_key
        self.gt_key = gt_key
        self.per_frame_file = per_frame_file

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store each frame's joint distances, box sizes and found hands.

        Args:
            data_batch: Unused.
            data_samples: Model outputs as dicts (see the class
                docstring).
        """
        for ds in data_samples:
            try:
                pred = np.asarray(ds['pred_instances'][self.pred_key])
                gt = np.asarray(ds['gt_instances'][self.gt_key])
                vis = np.asarray(ds['gt_instances']['keypoints_visible'])
            except KeyError as e:
                raise KeyError(
                    f'Hand2DMetric: data sample lacks {e}; needs '
                    f'pred_instances.{self.pred_key}, gt_instances.'
                    f'{self.gt_key} and gt_instances.keypoints_visible'
                ) from e
            result = hand_2d_errors(
                pred.reshape(-1, pred.shape[-1]),
                gt.reshape(-1, gt.shape[-1]), vis.reshape(-1),
                self.num_hands)
            found = ds['pred_instances'].get('hand_type', None)
            result['found'] = (np.ones(self.num_hands, bool)
                               if found is None else
                               np.asarray(found).reshape(-1) > 0)
            if len(result['found']) != self.num_hands:
                raise ValueError(
                    f'Hand2DMetric: pred_instances.hand_type has '
                    f'{len(result["found"])} entries, num_hands is '
                    f'{self.num_hands}')
            result['interacting'] = frame_is_interacting(
                ds, type(self).__name__)
            result['frame'] = str(ds.get('img_path', len(self.results)))
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """See :func:`summarise_2d`."""
        metrics = summarise_2d(results, self.thr)
        MMLogger.get_current_instance().info(
            f'{self.__class__.__name__}: {len(results)} frames, '
            f'{int(metrics["hands_all"])} hands, '
            f'{int(metrics["missed_all"])} missed (PCK@{self.thr:g} of each '
            "hand's box)")
        if self.per_frame_file:
            self._write_per_frame(results)
        return metrics

    def _write_per_frame(self, results: List[dict]) -> None:
        """Per-frame sums (see the class docstring), written atomically."""
        sums = [frame_sums_2d(r, self.thr) for r in results]
        out = dict(
            frames=np.array([r.get('frame', str(i))
                             for i, r in enumerate(results)]),
            interacting=np.array([r['interacting'] for r in results],
                                 bool))
        for key in sums[0] if sums else ():
            out[key] = np.array([f[key] for f in sums])
        write_per_frame(self.per_frame_file, out)
        MMLogger.get_current_instance().info(
            f'{self.__class__.__name__}: per-frame sums -> '
            f'{self.per_frame_file}')
