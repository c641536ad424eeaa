"""De-occlusion/removal quality: PSNR, SSIM and L1 inside the holes.

The stack has no SSIM that can be restricted to a region (mmengine,
mmcv, mmpose, mmseg and mmdet ship none; mmagic's works on whole images
in numpy and is not installed), so :func:`ssim_map` computes the usual
Gaussian-window SSIM map (Wang et al. 2004: 11x11 window, sigma 1.5,
K1 = 0.01, K2 = 0.03, data range 255) in torch, and the region score is
the mean of that map over the region's pixels.
"""
import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmpose.registry import METRICS

from hdr_mm.structures.hand_masks import tdr_masks


def _gaussian_1d(size: int, sigma: float) -> torch.Tensor:
    """(size,) float64 normalised Gaussian; the SSIM window is its outer
    product with itself."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    return g / g.sum()


def ssim_map(img1: torch.Tensor,
             img2: torch.Tensor,
             data_range: float = 255.,
             win_size: int = 11,
             sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM of two images, averaged over channels.

    The Gaussian window is separable: the five local statistics (both
    means, both second moments, the cross moment) are filtered together,
    along rows then along columns, in float64 (the same values as the 2D
    window, about 5x fewer operations for 11x11).

    Args:
        img1, img2: (C, H, W) or (N, C, H, W), same shape, any float or
            integer dtype, values in ``[0, data_range]``.
        data_range: Dynamic range of the values.
        win_size: Gaussian window size (odd).
        sigma: Gaussian standard deviation.

    Returns:
        Tensor: (H, W) or (N, H, W) float64 SSIM map; borders use
        reflection padding so every pixel has a value.
    """
    squeeze = img1.dim() == 3
    a = img1.double().unsqueeze(0) if squeeze else img1.double()
    b = img2.double().unsqueeze(0) if squeeze else img2.double()
    if a.shape != b.shape:
        raise ValueError(f'ssim_map: shapes differ {tuple(a.shape)} vs '
                         f'{tuple(b.shape)}')
    c = a.shape[1]
    pad = win_size // 2
    moments = torch.cat([a, b, a * a, b * b, a * b], dim=1)  # (N, 5C, H, W)
    k = moments.shape[1]
    g = _gaussian_1d(win_size, sigma).to(a.device)
    x = F.pad(moments, (pad, pad, pad, pad), mode='reflect')
    x = F.conv2d(x, g.view(1, 1, 1, win_size).expand(k, 1, 1, win_size),
                 groups=k)
    x = F.conv2d(x, g.view(1, 1, win_size, 1).expand(k, 1, win_size, 1),
                 groups=k)
    mu_a, mu_b, aa, bb, ab = x.split(c, dim=1)
    var_a = aa - mu_a**2
    var_b = bb - mu_b**2
    cov = ab - mu_a * mu_b
    c1, c2 = (0.01 * data_range)**2, (0.03 * data_range)**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    s = s.mean(dim=1)
    return s[0] if squeeze else s


def scores_in_regions(pred: torch.Tensor, gt: torch.Tensor,
                      regions: Dict[str, torch.Tensor]
                      ) -> Dict[str, Optional[Dict[str, float]]]:
    """PSNR (dB), SSIM and L1 (0-255 scale) of ``pred`` against ``gt``
    inside each region; the SSIM map is computed once for all of them.

    Args:
        pred, gt: (3, H, W) images, 0-255.
        regions: Name -> (H, W) mask; pixels > 0 count.

    Returns:
        dict: name -> ``psnr``, ``ssim``, ``l1``, or None for an empty
        region. PSNR uses the MSE over the region's pixels and channels,
        floored at 1e-10 (about 148 dB for identical images, whose SSIM
        is 1 and L1 0).
    """
    p, g = pred.double(), gt.double()
    identical = bool(torch.equal(p, g))
    ssim = None
    out = {}
    for name, region in regions.items():
        sel = region > 0
        if not bool(sel.any()):
            out[name] = None
            continue
        if ssim is None and not identical:  # identical: SSIM is 1
            ssim = ssim_map(p, g)
        diff = (p - g)[:, sel]
        mse = float((diff**2).mean())
        out[name] = dict(
            psnr=10 * math.log10(255.**2 / max(mse, 1e-10)),
            ssim=1.0 if identical else float(ssim[sel].mean()),
            l1=float(diff.abs().mean()))
    return out


def region_scores(pred: torch.Tensor, gt: torch.Tensor,
                  region: torch.Tensor) -> Optional[Dict[str, float]]:
    """:func:`scores_in_regions` for one region.

    Args:
        pred, gt: (3, H, W) images, 0-255.
        region: (H, W) mask; pixels > 0 count.

    Returns:
        dict with ``psnr``, ``ssim``, ``l1``, or None for an empty region.
    """
    return scores_in_regions(pred, gt, dict(region=region))['region']


@METRICS.register_module()
class TDRMetric(BaseMetric):
    """PSNR, SSIM and L1 of TDR results in three regions.

    Regions (docs/method.md section 2, from each sample's ``hand_masks``):
    ``deocc`` = the target's hidden part ``H_t``, ``removal`` = the other
    hand to erase ``H_o``, ``crop`` = the whole image. The prediction is
    the data sample's ``pred_img`` (the composite); with ``with_copy``
    the same scores are also computed for the trivial baseline that
    returns the input unchanged (``copy/...``), read from the batch's
    ``inputs``.

    Keys: ``{region}/{psnr,ssim,l1}`` and ``copy/{region}/...``, each the
    mean over the samples whose region is not empty, and
    ``{region}/count`` (number of such samples).

    Args:
        with_copy: Also score the copy-input baseline.
        collect_device: See :class:`mmengine.evaluator.BaseMetric`.
        prefix: Prefix of the keys (default ``tdr``).
    """

    default_prefix = 'tdr'
    REGIONS = ('deocc', 'removal', 'crop')

    def __init__(self,
                 with_copy: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.with_copy = with_copy

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for i, sample in enumerate(data_samples):
            for key in ('pred_img', 'gt_img', 'hand_masks'):
                if key not in sample:
                    raise KeyError(f'TDRMetric: data sample {i} has no '
                                   f'{key!r}')
            pred = sample['pred_img'].cpu()
            gt = sample['gt_img'].cpu()
            m = sample['hand_masks'].cpu().float()
            algebra = tdr_masks(m[0], m[1], m[2], m[3])
            regions = dict(deocc=algebra['hidden_t'],
                           removal=algebra['hidden_o'],
                           crop=torch.ones_like(m[0]))
            result = scores_in_regions(pred, gt, regions)
            if self.with_copy:
                inp = data_batch['inputs'][i].cpu()
                copy = scores_in_regions(inp, gt, regions)
                result.update({f'copy/{k}': v for k, v in copy.items()})
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        acc = defaultdict(list)
        for r in results:
            for region, scores in r.items():
                if scores is None:
                    continue
                for k, v in scores.items():
                    acc[f'{region}/{k}'].append(v)
        metrics = {k: float(np.mean(v)) for k, v in sorted(acc.items())}
        for region in self.REGIONS:
            metrics[f'{region}/count'] = len(acc.get(f'{region}/psnr', []))
        if metrics['deocc/count'] == 0:
            MMLogger.get_current_instance().warning(
                'TDRMetric: no sample has a de-occlusion hole')
        return metrics
