"""IoU of HASM's binary hand masks and of the derived hidden regions."""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmseg.registry import METRICS

from hdr_mm.structures import HAND_MASK_NAMES


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def hand_mask_counts(pred: np.ndarray,
                     gt: np.ndarray,
                     mask_names: Sequence[str] = HAND_MASK_NAMES,
                     ignore_index: int = 255) -> Dict[str, tuple]:
    """Intersection and union (pixel counts) of each mask and hidden region.

    The hidden region of hand ``h`` is its amodal mask minus its visible
    mask, ``h_amodal * (1 - h_visible)`` (docs/method.md section 2),
    computed on the prediction and on the ground truth alike.

    Args:
        pred: ``(num_masks, H, W)`` predicted masks, values 0/1.
        gt: ``(num_masks, H, W)`` target masks, values 0/1, or
            ``ignore_index`` for pixels left out (e.g. padding); a pixel
            ignored in any channel is left out of the hidden regions.
        mask_names: Channel names; hidden regions are reported for every
            hand ``h`` with both ``h_amodal`` and ``h_visible``.
        ignore_index: Label of ignored pixels.

    Returns:
        dict: ``<name>`` and ``<h>_hidden`` -> ``(intersection, union)``
        as Python ints.
    """
    pred, gt = _as_numpy(pred), _as_numpy(gt)
    if pred.shape != gt.shape or pred.ndim != 3 or \
            pred.shape[0] != len(mask_names):
        raise ValueError(
            f'pred {pred.shape} and gt {gt.shape} must both be '
            f'({len(mask_names)}, H, W) for masks {list(mask_names)}')
    valid = gt != ignore_index
    pred_b, gt_b = pred.astype(bool), (gt == 1)
    counts = OrderedDict()
    for k, name in enumerate(mask_names):
        p, g = pred_b[k] & valid[k], gt_b[k] & valid[k]
        counts[name] = (int((p & g).sum()), int((p | g).sum()))
    all_valid = valid.all(axis=0)
    for hand in ('l', 'r'):
        a, v = f'{hand}_amodal', f'{hand}_visible'
        if a in mask_names and v in mask_names:
            ia, iv = list(mask_names).index(a), list(mask_names).index(v)
            p = pred_b[ia] & ~pred_b[iv] & all_valid
            g = gt_b[ia] & ~gt_b[iv] & all_valid
            counts[f'{hand}_hidden'] = (int((p & g).sum()),
                                        int((p | g).sum()))
    return counts


def iou_from_counts(counts: Sequence[Dict[str, tuple]],
                    mask_names: Sequence[str]) -> Dict[str, float]:
    """Split-level IoUs from the per-image counts of
    :func:`hand_mask_counts`.

    Args:
        counts: One ``hand_mask_counts`` result per image.
        mask_names: The masks whose IoUs are averaged into ``mIoU``.

    Returns:
        dict: ``IoU_<mask>`` for ``mask_names``, then ``mIoU``, then the
        other keys (``IoU_<h>_hidden``); ``sum(intersection) /
        sum(union)``, NaN for a key with no pixel in any image.
    """
    ious = OrderedDict()
    for key in (counts[0].keys() if counts else ()):
        inter = sum(r[key][0] for r in counts)
        union = sum(r[key][1] for r in counts)
        ious[f'IoU_{key}'] = inter / union if union else float('nan')
    ordered = OrderedDict(
        (f'IoU_{n}', ious.get(f'IoU_{n}', float('nan'))) for n in mask_names)
    ordered['mIoU'] = float(np.mean(list(ordered.values())))
    for k, v in ious.items():
        ordered.setdefault(k, v)
    return ordered


@METRICS.register_module()
class HandAmodalIoU(BaseMetric):
    """IoU of every HASM mask, their mean, and IoU of the hidden regions.

    IoU here is the foreground (hand) IoU of each binary mask, accumulated
    over the whole split: ``sum(intersection) / sum(union)`` over all
    images, as mmseg's ``IoUMetric`` does for a class. Background IoU is not
    averaged in, as it is near 1 and would hide errors.

    ``process`` keeps per-image pixel counts only; ``compute_metrics``
    returns fractions in [0, 1]:

    - ``IoU_<mask>`` for each of ``mask_names``,
    - ``mIoU``: the mean of those (over the four masks by default),
    - ``IoU_<h>_hidden`` for each hand: the region ``amodal - visible``
      (the hand's occluded part), reported separately and not part of
      ``mIoU``. It is NaN when neither prediction nor target has any hidden
      pixel in the whole split.

    Args:
        mask_names: Channel names of ``pred_sem_seg`` / ``gt_sem_seg``;
            the data samples' ``mask_names`` metainfo must match it.
        ignore_index: Target label of ignored pixels.
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Prefix of the metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 mask_names: Sequence[str] = HAND_MASK_NAMES,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.mask_names = tuple(mask_names)
        self.ignore_index = ignore_index

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Count intersections and unions of one batch.

        Args:
            data_batch: Unused.
            data_samples: Model outputs as dicts, each with
                ``pred_sem_seg['data']`` and ``gt_sem_seg['data']`` of shape
                ``(num_masks, H, W)``.
        """
        for ds in data_samples:
            names = ds.get('mask_names', self.mask_names)
            if tuple(names) != self.mask_names:
                raise ValueError(
                    f"{ds.get('img_path', 'a data sample')} has masks "
                    f'{list(names)}, the metric expects '
                    f'{list(self.mask_names)}')
            if 'gt_sem_seg' not in ds:
                raise KeyError(f"{ds.get('img_path', 'a data sample')} has "
                               'no gt_sem_seg to evaluate against')
            counts = hand_mask_counts(ds['pred_sem_seg']['data'],
                                      ds['gt_sem_seg']['data'],
                                      self.mask_names, self.ignore_index)
            self.results.append(counts)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Aggregate the counts of all images into IoUs.

        Args:
            results: The ``process`` outputs of every image.

        Returns:
            dict[str, float]: ``IoU_<mask>``, ``mIoU``, ``IoU_<h>_hidden``.
        """
        ordered = iou_from_counts(results, self.mask_names)
        MMLogger.get_current_instance().info(
            'HASM IoU: ' + ', '.join(f'{k}={v:.4f}'
                                     for k, v in ordered.items()))
        return dict(ordered)
