"""HandAmodalIoU on hand-made masks with known IoUs."""
import math

import numpy as np
import pytest
import torch

import hdr_mm  # noqa: F401
from hdr_mm.evaluation.metrics import HandAmodalIoU, hand_mask_counts


def rect(y0, y1, x0, x1, size=10):
    m = np.zeros((size, size), np.int64)
    m[y0:y1, x0:x1] = 1
    return m


def sample(pred, gt):
    return dict(
        pred_sem_seg=dict(data=torch.from_numpy(np.stack(pred))),
        gt_sem_seg=dict(data=torch.from_numpy(np.stack(gt))),
        mask_names=('l_amodal', 'l_visible', 'r_amodal', 'r_visible'))


def test_known_ious():
    # l_amodal: gt 4x4=16 px, pred shifted by 2 columns -> I=8, U=24.
    # l_visible: identical 2x4 -> IoU 1.
    # r_amodal: gt 5x5, pred 5x4 inside it -> 20/25.
    # r_visible: gt 5x3, pred empty -> 0/15.
    gt = [rect(0, 4, 0, 4), rect(0, 2, 0, 4), rect(5, 10, 5, 10),
          rect(5, 10, 5, 8)]
    pred = [rect(0, 4, 2, 6), rect(0, 2, 0, 4), rect(5, 10, 5, 9),
            np.zeros((10, 10), np.int64)]
    metric = HandAmodalIoU()
    metric.process({}, [sample(pred, gt)])
    res = metric.compute_metrics(metric.results)
    assert res['IoU_l_amodal'] == pytest.approx(8 / 24)
    assert res['IoU_l_visible'] == pytest.approx(1.0)
    assert res['IoU_r_amodal'] == pytest.approx(20 / 25)
    assert res['IoU_r_visible'] == pytest.approx(0.0)
    assert res['mIoU'] == pytest.approx((8 / 24 + 1 + 0.8 + 0) / 4)
    # hidden = amodal - visible.
    # left: gt rows 2..3 cols 0..3 (8 px); pred rows 2..3 cols 2..5 plus
    #       rows 0..1 cols 4..5 (12 px) -> I = 4 (rows 2..3, cols 2..3),
    #       U = 8 + 12 - 4 = 16
    assert res['IoU_l_hidden'] == pytest.approx(4 / 16)
    # right: gt cols 8..9 of rows 5..9 (10 px); pred all of r_amodal pred
    #        (cols 5..8, 20 px) -> I = 5 (col 8), U = 25
    assert res['IoU_r_hidden'] == pytest.approx(5 / 25)
    assert list(res)[:5] == ['IoU_l_amodal', 'IoU_l_visible',
                             'IoU_r_amodal', 'IoU_r_visible', 'mIoU']


def test_accumulates_over_images_and_ignores_255():
    gt1 = [rect(0, 2, 0, 2)] * 4  # 4 px each
    pred1 = [rect(0, 2, 0, 2)] * 4  # perfect
    gt2 = [rect(0, 2, 0, 6)] * 4  # 12 px each
    pred2 = [np.zeros((10, 10), np.int64)] * 4  # all missed
    metric = HandAmodalIoU()
    metric.process({}, [sample(pred1, gt1), sample(pred2, gt2)])
    res = metric.compute_metrics(metric.results)
    # dataset-level: I = 4, U = 4 + 12 -> 0.25 (not the mean of 1 and 0)
    assert res['IoU_r_amodal'] == pytest.approx(0.25)
    # amodal == visible everywhere: no hidden pixel in the split
    assert math.isnan(res['IoU_l_hidden'])

    gt = rect(0, 4, 0, 4)
    gt[0, :] = 255  # padding row
    pred = rect(0, 4, 0, 4)  # predicts the padding row too: not counted
    counts = hand_mask_counts(np.stack([pred] * 4), np.stack([gt] * 4))
    assert counts['l_amodal'] == (12, 12)


def test_bad_inputs():
    metric = HandAmodalIoU()
    bad = sample([rect(0, 2, 0, 2)] * 3, [rect(0, 2, 0, 2)] * 3)
    bad['mask_names'] = ('l_amodal', 'l_visible', 'r_amodal')
    bad['img_path'] = 'x.jpg'
    with pytest.raises(ValueError, match='x.jpg has masks'):
        metric.process({}, [bad])
    with pytest.raises(ValueError, match=r'\(4, H, W\)'):
        hand_mask_counts(np.zeros((3, 5, 5)), np.zeros((3, 5, 5)))
