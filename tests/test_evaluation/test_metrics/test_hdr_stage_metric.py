import math

import numpy as np
import pytest
import torch

from hdr_mm.evaluation.metrics import HDRStageMetric

NAMES = ('l_amodal', 'l_visible', 'r_amodal', 'r_visible')


def _sample(pred_masks, gt_masks, out, gt, repaint, found=(1, 1),
            valid=(True, True)):
    return dict(
        img_path='x.jpg',
        mask_names=NAMES,
        pred_fields=dict(hand_masks=pred_masks),
        gt_fields=dict(hand_masks=gt_masks),
        pred_instances=dict(hand_type=np.array([found], np.float32)),
        gt_alone_valid=np.array(valid),
        tdr_crops=out,
        gt_hand_crops=gt,
        repaint=repaint)


def test_iou_and_psnr_on_hand_made_values():
    s, c = 4, 16
    gt_masks = torch.zeros(4, s, s, dtype=torch.uint8)
    gt_masks[:, :2] = 1  # every mask: top half, 8 pixels
    pred_masks = torch.zeros(4, s, s, dtype=torch.uint8)
    pred_masks[:, :1] = 1  # top quarter: IoU 4 / 8
    gt = torch.full((2, 3, c, c), 100, dtype=torch.uint8)
    out = gt.clone()
    out[:, :, :4] += 10  # error 10 on the repaint region, 0 elsewhere
    repaint = torch.zeros(2, 1, c, c, dtype=torch.uint8)
    repaint[:, :, :4] = 1
    metric = HDRStageMetric(mask_names=NAMES)
    metric.process({}, [_sample(pred_masks, gt_masks, out, gt, repaint)])
    res = metric.compute_metrics(metric.results)
    assert res['mask/mIoU'] == pytest.approx(0.5)
    assert res['mask/IoU_r_amodal'] == pytest.approx(0.5)
    # amodal == visible everywhere: no hidden pixel at all
    assert math.isnan(res['mask/IoU_r_hidden'])
    # MSE 100 in the repaint region; a quarter of the crop overall
    assert res['repaint/psnr'] == pytest.approx(10 * math.log10(255**2 / 100))
    assert res['crop/psnr'] == pytest.approx(10 * math.log10(255**2 / 25))
    assert res['repaint/l1'] == pytest.approx(10)
    assert res['repaint/count'] == 2


def test_deocclusion_and_removal_holes():
    c = 16
    gt = torch.full((2, 3, c, c), 100, dtype=torch.uint8)
    out = gt.clone()
    out[:, :, :4] += 20  # hidden part of the target: error 20
    out[:, :, 4:8] += 5  # the other hand: error 5
    holes = torch.zeros(2, 2, c, c, dtype=torch.uint8)
    holes[:, 0, :4] = 1
    holes[:, 1, 4:8] = 1
    repaint = holes.max(1, keepdim=True).values
    m = torch.ones(4, 2, 2, dtype=torch.uint8)
    sample = dict(_sample(m, m, out, gt, repaint), holes=holes)
    metric = HDRStageMetric(mask_names=NAMES)
    metric.process({}, [sample])
    res = metric.compute_metrics(metric.results)
    assert res['deocc/psnr'] == pytest.approx(10 * math.log10(255**2 / 400))
    assert res['removal/psnr'] == pytest.approx(
        10 * math.log10(255**2 / 25))
    assert res['deocc/count'] == res['removal/count'] == 2


def test_only_found_hands_of_two_hand_frames_are_scored():
    m = torch.ones(4, 2, 2, dtype=torch.uint8)
    crops = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    rep = torch.ones(2, 1, 16, 16, dtype=torch.uint8)
    metric = HDRStageMetric(mask_names=NAMES)
    metric.process({}, [
        _sample(m, m, crops, crops, rep, found=(1, 0)),
        _sample(m, m, crops, crops, rep, valid=(False, True)),
    ])
    res = metric.compute_metrics(metric.results)
    assert res['repaint/count'] == 1  # the found hand of the first frame
    assert res['mask/mIoU'] == 1.0


def test_missing_targets_are_named():
    metric = HDRStageMetric()
    with pytest.raises(KeyError, match='LoadHDRTargets'):
        metric.process({}, [dict(img_path='frame.jpg', pred_fields={})])
