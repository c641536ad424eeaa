"""How often a hand-side detector's boxes carry the right side."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric

from hdr_mm.structures import bbox_iou, union_bbox


def _arr(x: Any) -> np.ndarray:
    if hasattr(x, 'tensor'):  # mmdet HorizontalBoxes
        x = x.tensor
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def match_hands(pred_boxes: np.ndarray, pred_scores: np.ndarray,
                gt_boxes: np.ndarray, iou_thr: float) -> List[tuple]:
    """Greedy class-agnostic matching, best-scoring detection first.

    Returns:
        list[tuple]: ``(pred index, gt index)`` pairs; each detection and
        each ground-truth hand at most once, IoU >= ``iou_thr``.
    """
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return []
    iou = bbox_iou(pred_boxes, gt_boxes)
    taken = np.zeros(len(gt_boxes), bool)
    pairs = []
    for i in np.argsort(-pred_scores, kind='stable'):
        cand = np.where(taken, -1.0, iou[i])
        j = int(cand.argmax())
        if cand[j] >= iou_thr:
            taken[j] = True
            pairs.append((int(i), j))
    return pairs


@METRICS.register_module()
class HandednessMetric(BaseMetric):
    """Side accuracy of a right/left hand detector, and of HDR's choice.

    Per image, detections scoring above ``score_thr`` are matched to the
    ground-truth hands class-agnostically (greedy by score, IoU >=
    ``iou_thr``). Reported:

    - ``handedness_acc``: of the matched hands, the fraction whose
      detection has the ground-truth side (the accuracy of the boxes'
      classes);
    - ``hand_recall``: matched hands / ground-truth hands;
    - ``hdr_side_acc``: the fraction of ground-truth hands for which
      ``hdr_mm.apis.hand_detection.select_hands`` (the best box per side,
      what HDR uses) returns a box of the same side with IoU >=
      ``iou_thr``;
    - ``hdr_count_acc``: the fraction of images where it returns as many
      hands as there are;
    - ``hdr_union_iou``: mean IoU of its two-hand box with the
      ground-truth one (0 where it finds nothing).

    The ground truth is the data samples' ``gt_instances`` (the test
    pipeline must load annotations; boxes in original image pixels, as
    mmdet's test pipelines do with ``LoadAnnotations`` after ``Resize``).

    Args:
        score_thr: Detection score threshold (also ``select_hands``').
        iou_thr: IoU for a detection to be a ground-truth hand.
        classes: Class names (default: the dataset meta's).
        collect_device, prefix: See :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix: Optional[str] = 'hand_side'

    def __init__(self,
                 score_thr: float = 0.3,
                 iou_thr: float = 0.5,
                 classes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.score_thr = float(score_thr)
        self.iou_thr = float(iou_thr)
        self.classes = tuple(classes) if classes is not None else None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        from hdr_mm.apis.hand_detection import HAND_SIDES, select_hands
        classes = self.classes or tuple(
            (self.dataset_meta or {}).get('classes', HAND_SIDES))
        for sample in data_samples:
            pred, gt = sample['pred_instances'], sample.get('gt_instances')
            if gt is None:
                raise KeyError('HandednessMetric needs gt_instances: add '
                               'LoadAnnotations to the test pipeline')
            boxes, scores = _arr(pred['bboxes']), _arr(pred['scores'])
            labels = _arr(pred['labels'])
            gt_boxes = _arr(gt['bboxes']).reshape(-1, 4)
            gt_labels = _arr(gt['labels']).reshape(-1)
            keep = scores > self.score_thr
            pairs = match_hands(boxes[keep], scores[keep], gt_boxes,
                                self.iou_thr)
            correct = sum(int(labels[keep][i] == gt_labels[j])
                          for i, j in pairs)
            chosen = select_hands(
                dict(bboxes=boxes, scores=scores, labels=labels),
                classes=classes, score_thr=self.score_thr)
            side_ok = 0
            for j, lab in enumerate(gt_labels):
                box = chosen.box_of(classes[int(lab)])
                if box is not None and bbox_iou(
                        box, gt_boxes[j])[0, 0] >= self.iou_thr:
                    side_ok += 1
            union_iou = 0.0
            if len(gt_boxes) and chosen.union_box is not None:
                union_iou = float(bbox_iou(chosen.union_box,
                                           union_bbox(gt_boxes))[0, 0])
            self.results.append(
                dict(num_gt=len(gt_boxes), matched=len(pairs),
                     correct=correct, side_ok=side_ok,
                     count_ok=int(len(chosen) == len(gt_boxes)),
                     union_iou=union_iou))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        total = lambda k: float(sum(r[k] for r in results))  # noqa: E731
        num_gt = max(total('num_gt'), 1.0)
        return dict(
            handedness_acc=total('correct') / max(total('matched'), 1.0),
            hand_recall=total('matched') / num_gt,
            hdr_side_acc=total('side_ok') / num_gt,
            hdr_count_acc=total('count_ok') / max(len(results), 1),
            hdr_union_iou=total('union_iou') / max(len(results), 1))
