import math

import pytest
import torch

import hdr_mm  # noqa: F401
from hdr_mm.evaluation.metrics import TDRMetric, region_scores, ssim_map


def test_ssim_known_values():
    a = torch.rand(3, 32, 32) * 255
    assert torch.allclose(ssim_map(a, a), torch.ones(32, 32).double())
    # constant images: SSIM = (2xy + C1) / (x^2 + y^2 + C1) (no variance)
    x, y = 100., 150.
    c1 = (0.01 * 255)**2
    s = ssim_map(torch.full((1, 16, 16), x), torch.full((1, 16, 16), y))
    assert torch.allclose(s, torch.full((16, 16),
                                        (2 * x * y + c1) /
                                        (x * x + y * y + c1)).double())


def test_region_scores_known_values():
    gt = torch.full((3, 8, 8), 100.)
    pred = gt.clone()
    region = torch.zeros(8, 8)
    region[:2] = 1
    pred[:, :2] += 10  # error 10 inside the region only
    pred[:, 5:] -= 50  # large error outside, must not count
    r = region_scores(pred, gt, region)
    assert r['psnr'] == pytest.approx(10 * math.log10(255**2 / 100))
    assert r['l1'] == pytest.approx(10.)
    assert region_scores(pred, gt, torch.zeros(8, 8)) is None


def test_metric_regions_and_copy_baseline():
    hw = 16
    masks = torch.zeros(4, hw, hw, dtype=torch.uint8)
    masks[0, :8] = 1
    masks[1, 4:8] = 1   # H_t: rows 0..3
    masks[2, 8:12] = 1  # H_o: rows 8..11
    gt = torch.full((3, hw, hw), 100, dtype=torch.uint8)
    inp = gt.clone()
    inp[:, :4] = 0      # occluder over the hidden part
    inp[:, 8:12] = 0    # other hand
    pred = gt.clone()
    pred[:, :4] = 90    # error 10 in H_t
    metric = TDRMetric()
    samples = [dict(pred_img=pred, gt_img=gt, hand_masks=masks)]
    metric.process(dict(inputs=[inp]), samples)
    res = metric.compute_metrics(metric.results)
    assert res['deocc/l1'] == pytest.approx(10)
    assert res['deocc/psnr'] == pytest.approx(10 * math.log10(255**2 / 100))
    assert res['removal/l1'] == 0 and res['removal/psnr'] > 140
    # the SSIM window (sigma 1.5) barely reaches the error 5 rows away
    assert res['removal/ssim'] == pytest.approx(1, abs=1e-3)
    assert res['deocc/ssim'] < res['removal/ssim']
    assert res['copy/deocc/l1'] == pytest.approx(100)
    assert res['copy/removal/l1'] == pytest.approx(100)
    assert res['crop/l1'] == pytest.approx(10 * 4 / 16)
    assert res['deocc/count'] == 1
    # a sample without holes contributes to crop only
    metric.process(dict(inputs=[gt]), [dict(pred_img=gt, gt_img=gt,
                                            hand_masks=torch.zeros_like(
                                                masks))])
    res = metric.compute_metrics(metric.results)
    assert res['deocc/count'] == 1 and res['crop/count'] == 2
    with pytest.raises(KeyError, match='pred_img'):
        metric.process(dict(inputs=[gt]), [dict(gt_img=gt,
                                                hand_masks=masks)])
