"""Root-aligned MPJPE / PA-MPJPE of 3D hands, split single vs interacting.

The numbers of HDR's tables (docs/method.md section 5): the mean distance
in mm between predicted and ground-truth joints after each hand is made
relative to its own root (wrist), over all annotated joints, reported for
frames with one hand, frames with interacting hands, and all frames.

The error itself is mmpose's :func:`~mmpose.evaluation.functional.
keypoint_mpjpe`; Procrustes alignment uses mmpose's
``compute_similarity_transform``, applied to the annotated joints only
(mmpose's ``alignment='procrustes'`` fits on all joints, including
unannotated ones, whose ground truth is meaningless).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmpose.evaluation.functional import keypoint_mpjpe
from mmpose.evaluation.functional.mesh_eval import \
    compute_similarity_transform
from mmpose.registry import METRICS

from ..functional import frame_is_interacting, split_masks, write_per_frame


def root_relative_hands(joints: np.ndarray,
                        root_indices: Sequence[int]) -> np.ndarray:
    """Split a (N, H*J, 3) array into (N*H, J, 3) hands relative to roots.

    Args:
        joints: (N, H * J, 3) joints of H hands with J joints each,
            hand after hand (e.g. 42 InterHand2.6M joints = right, left).
        root_indices: Root index of each hand in the 42-joint frame, e.g.
            ``(20, 41)``; hand h covers joints ``[h*J, (h+1)*J)``.

    Returns:
        np.ndarray: (N * H, J, 3), each hand minus its root.
    """
    N, KK, C = joints.shape
    H = len(root_indices)
    if KK % H:
        raise ValueError(f'{KK} joints cannot be split into {H} hands')
    J = KK // H
    hands = joints.reshape(N, H, J, C)
    roots = np.stack(
        [joints[:, r] for r in root_indices], axis=1)  # (N, H, C)
    for h, r in enumerate(root_indices):
        if not h * J <= r < (h + 1) * J:
            raise ValueError(f'root index {r} is outside hand {h} '
                             f'(joints {h * J}..{(h + 1) * J - 1})')
    return (hands - roots[:, :, None]).reshape(N * H, J, C)


def procrustes_align(pred: np.ndarray, gt: np.ndarray,
                     mask: np.ndarray) -> np.ndarray:
    """Similarity-align each predicted hand to its ground truth.

    The transform is fitted on the annotated joints of each hand only.

    Args:
        pred: (M, J, 3) predicted hands.
        gt: (M, J, 3) ground truth.
        mask: (M, J) bool, annotated joints.

    Returns:
        np.ndarray: (M, J, 3) aligned predictions (hands with fewer than 3
        annotated joints are returned unchanged).
    """
    out = pred.copy()
    for i in range(len(pred)):
        if mask[i].sum() >= 3:
            out[i, mask[i]] = compute_similarity_transform(
                pred[i, mask[i]], gt[i, mask[i]])
    return out


@METRICS.register_module()
class HandMPJPEMetric(BaseMetric):
    """Root-aligned MPJPE and PA-MPJPE (mm), single / interacting / all.

    Works for one hand per sample (SHPE, 21 joints, root 0) and for
    two-hand frames (InterHand2.6M order, 42 joints, roots 20 and 41) by
    setting ``root_indices``. Per sample it reads:

    - ``pred_instances.<pred_key>`` (1, K, 3) predicted joints (mm; any
      origin, they are re-rooted here),
    - ``gt_instances.<gt_key>`` (1, K, 3) ground truth (mm),
    - ``gt_instances.keypoints_visible`` (1, K) annotation validity,
    - interacting or not: metainfo ``interacting`` (bool), else
      ``hand_type`` (InterHand's (1, 2) one-hot: interacting when both
      are set).

    A hand whose root is not annotated is left out. ``process`` keeps
    root-relative (and Procrustes-aligned) joints as plain arrays;
    ``compute_metrics`` averages the errors over all annotated joints with
    ``keypoint_mpjpe``, as InterHand2.6M's and mmpose's evaluation does.

    With ``per_frame_file``, the errors of every frame are also written
    there (``.npz``) for intervals and paired comparisons
    (:mod:`hdr_mm.evaluation.functional.bootstrap`): ``frames`` (the
    samples' ``img_path``), ``interacting`` (bool) and, per mode,
    ``<mode>_sum`` (the frame's summed joint errors, mm) and
    ``<mode>_count`` (its annotated joints).

    Args:
        root_indices: Root joint of each hand in the sample's joints.
        pred_key: Field of ``pred_instances`` with the 3D joints.
        gt_key: Field of ``gt_instances`` with the 3D joints.
        modes: Subset of ``('MPJPE', 'PA-MPJPE')``.
        per_frame_file: Write the per-frame errors there (replaced
            atomically at each evaluation); None writes nothing.
        collect_device: See :class:`~mmengine.evaluator.BaseMetric`.
        prefix: See :class:`~mmengine.evaluator.BaseMetric`.
    """

    default_prefix = 'hand'

    def __init__(self,
                 root_indices: Sequence[int] = (0, ),
                 pred_key: str = 'keypoints_3d',
                 gt_key: str = 'keypoints_cam',
                 modes: Sequence[str] = ('MPJPE', 'PA-MPJPE'),
                 per_frame_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        bad = set(modes) - {'MPJPE', 'PA-MPJPE'}
        if bad or not modes:
            raise ValueError(f"modes must be among 'MPJPE', 'PA-MPJPE', got "
                             f'{list(modes)}')
        self.root_indices = tuple(int(r) for r in root_indices)
        self.pred_key = pred_key
        self.gt_key = gt_key
        self.modes = tuple(modes)
        self.per_frame_file = per_frame_file

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store each hand's per-joint errors (mm) and its frame type."""
        for ds in data_samples:
            try:
                pred = np.asarray(ds['pred_instances'][self.pred_key],
                                  dtype=np.float64)
                gt = np.asarray(ds['gt_instances'][self.gt_key],
                                dtype=np.float64)
                vis = np.asarray(ds['gt_instances']['keypoints_visible'])
            except KeyError as e:
                raise KeyError(
                    f'HandMPJPEMetric: data sample lacks {e}; needs '
                    f'pred_instances.{self.pred_key}, gt_instances.'
                    f'{self.gt_key} and gt_instances.keypoints_visible'
                ) from e
            pred, gt = pred.reshape(1, -1, 3), gt.reshape(1, -1, 3)
            if pred.shape != gt.shape:
                raise ValueError(f'HandMPJPEMetric: prediction {pred.shape} '
                                 f'and ground truth {gt.shape} differ')
            vis = vis.reshape(1, -1) > 0.5
            # a joint counts when it and its hand's root are annotated
            J = pred.shape[1] // len(self.root_indices)
            roots_ok = np.array([vis[0, r] for r in self.root_indices])
            mask = vis.reshape(len(self.root_indices), J) & roots_ok[:, None]
            p = root_relative_hands(pred, self.root_indices)
            g = root_relative_hands(gt, self.root_indices)
            result = dict(
                interacting=frame_is_interacting(ds, type(self).__name__),
                mask=mask, gt=g,
                frame=str(ds.get('img_path', len(self.results))))
            if 'MPJPE' in self.modes:
                result['pred'] = p
            if 'PA-MPJPE' in self.modes:
                result['pred_pa'] = procrustes_align(p, g, mask)
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the errors over joints.

        Returns:
            dict: ``MPJPE_all``, ``MPJPE_single``, ``MPJPE_interacting``
            and the same for ``PA-MPJPE`` (mm); a split without annotated
            joints is reported as NaN.
        """
        logger = MMLogger.get_current_instance()
        metrics = {}
        interacting = np.concatenate([[r['interacting']] * len(r['mask'])
                                      for r in results]).astype(bool)
        mask = np.concatenate([r['mask'] for r in results])
        splits = split_masks(interacting)
        gt = np.concatenate([r['gt'] for r in results])
        for mode, key in (('MPJPE', 'pred'), ('PA-MPJPE', 'pred_pa')):
            if mode not in self.modes:
                continue
            pred = np.concatenate([r[key] for r in results])
            for split in ('all', 'single', 'interacting'):
                m = mask & splits[split][:, None]
                metrics[f'{mode}_{split}'] = float(
                    keypoint_mpjpe(pred, gt, m)) if m.any() else float('nan')
        logger.info(f'{self.__class__.__name__}: {len(results)} samples, '
                    f'{int(mask.sum())} annotated joints')
        if self.per_frame_file:
            self._write_per_frame(results)
        return metrics

    def _write_per_frame(self, results: List[dict]) -> None:
        """Per-frame error sums and joint counts (see the class
        docstring), replaced atomically."""
        out = dict(frames=np.array([r['frame'] for r in results]),
                   interacting=np.array([r['interacting']
                                         for r in results]))
        for mode, key in (('MPJPE', 'pred'), ('PA-MPJPE', 'pred_pa')):
            if mode not in self.modes:
                continue
            err = [np.linalg.norm(r[key] - r['gt'], axis=-1) * r['mask']
                   for r in results]
            out[f'{mode}_sum'] = np.array([e.sum() for e in err])
            out[f'{mode}_count'] = np.array(
                [r['mask'].sum() for r in results])
        write_per_frame(self.per_frame_file, out)
        MMLogger.get_current_instance().info(
            f'{self.__class__.__name__}: per-frame errors -> '
            f'{self.per_frame_file}')
