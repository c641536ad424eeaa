import math

import pytest
import torch
import torch.nn.functional as F

import hdr_mm  # noqa: F401
from hdr_mm.evaluation.metrics import (TDRMetric, region_scores,
                                       scores_in_regions, ssim_map)


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


def _ssim_2d_window(a, b, win=11, sigma=1.5):
    """SSIM written out with the 2D Gaussian window (Wang et al.)."""
    x = torch.arange(win, dtype=torch.float64) - (win - 1) / 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    w2 = (g[:, None] * g[None]) / g.sum()**2
    a, b = a.double()[None], b.double()[None]
    c = a.shape[1]

    def filt(t):
        t = F.pad(t, (win // 2, ) * 4, mode='reflect')
        return F.conv2d(t, w2.expand(c, 1, win, win), groups=c)

    ma, mb = filt(a), filt(b)
    va, vb, cov = filt(a * a) - ma**2, filt(b * b) - mb**2, \
        filt(a * b) - ma * mb
    c1, c2 = (0.01 * 255)**2, (0.03 * 255)**2
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / (
        (ma**2 + mb**2 + c1) * (va + vb + c2))
    return s.mean(1)[0]


def test_ssim_separable_equals_2d_window():
    """Filtering rows then columns gives the 2D window's SSIM."""
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(3, 40, 33, generator=gen) * 255
    b = (a + torch.randn(3, 40, 33, generator=gen) * 30).clamp(0, 255)
    torch.testing.assert_close(ssim_map(a, b), _ssim_2d_window(a, b),
                               rtol=0, atol=1e-12)
    batch = ssim_map(torch.stack([a, b]), torch.stack([b, a]))
    torch.testing.assert_close(batch[0], ssim_map(a, b))


def test_scores_in_regions_equal_one_region_at_a_time():
    gen = torch.Generator().manual_seed(1)
    gt = torch.rand(3, 24, 24, generator=gen) * 255
    pred = (gt + torch.randn(3, 24, 24, generator=gen) * 20).clamp(0, 255)
    regions = dict(top=torch.zeros(24, 24), empty=torch.zeros(24, 24),
                   all=torch.ones(24, 24))
    regions['top'][:6] = 1
    together = scores_in_regions(pred, gt, regions)
    assert together['empty'] is None
    for name in ('top', 'all'):
        alone = region_scores(pred, gt, regions[name])
        assert together[name] == pytest.approx(alone)
        sel = regions[name] > 0
        ssim = float(_ssim_2d_window(pred, gt)[sel].mean())
        assert together[name]['ssim'] == pytest.approx(ssim, abs=1e-12)


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


def test_identical_images_score_exactly_as_the_ssim_map_gives():
    gen = torch.Generator().manual_seed(2)
    img = torch.rand(3, 24, 24, generator=gen) * 255
    region = torch.zeros(24, 24)
    region[4:12, 3:20] = 1
    r = region_scores(img, img.clone(), region)
    assert r == dict(psnr=pytest.approx(10 * math.log10(255**2 / 1e-10)),
                     ssim=1.0, l1=0.0)
    assert float(ssim_map(img, img)[region > 0].mean()) == pytest.approx(
        1.0, abs=1e-12)


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
