"""Paired bootstrap of HDR's gain over "SHPE alone" on 2D hand metrics.

Reads the raw predictions that ``tools/test.py ... --out FILE.pkl`` dumped
for the two runs of one pipeline config (``model.use_tdr=False`` and the
full pipeline) on the same frames, scores every frame with
:class:`hdr_mm.evaluation.metrics.Hand2DMetric` and resamples the frames
(the same resampled frames for both runs) to give a 95% interval of the
gain in EPE (px, lower is better: alone minus HDR) and in PCK (HDR minus
alone), per split.

    python projects/stock_shpe/tools/bootstrap_gain.py \
        alone.pkl hdr.pkl [--num-samples 10000] [--seed 0] [--thr 0.2]
"""
import argparse
import pickle
from typing import Dict, List

import numpy as np

from hdr_mm.evaluation.metrics.hand_2d_metric import (SPLITS, Hand2DMetric,
                                                      summarise_2d)


def frame_results(path: str, thr: float) -> Dict[str, dict]:
    """Per-frame :class:`Hand2DMetric` results of a dump, keyed by image."""
    with open(path, 'rb') as f:
        samples = pickle.load(f)
    metric = Hand2DMetric(thr=thr)
    metric.process(None, samples)
    keys = [str(s.get('img_path', i)) for i, s in enumerate(samples)]
    if len(set(keys)) != len(keys):
        raise ValueError(f'{path}: frames are not unique by img_path')
    return dict(zip(keys, metric.results))


def bootstrap(alone: List[dict], hdr: List[dict], num_samples: int,
              seed: int, thr: float) -> Dict[str, dict]:
    """Point values and 95% percentile intervals of the gains.

    Args:
        alone: Per-frame results of "SHPE alone".
        hdr: Those of "HDR + SHPE", the same frames in the same order.
        num_samples: Bootstrap resamples.
        seed: Random seed.
        thr: PCK threshold.

    Returns:
        dict: per split, ``alone`` and ``hdr`` (the metrics of
        :func:`summarise_2d`), ``epe_gain`` / ``pck_gain`` (point value,
        low, high) and ``frames``.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for split in SPLITS:
        idx = [i for i, r in enumerate(alone)
               if split == 'all' or r['interacting'] == (
                   split == 'interacting')]
        if not idx:
            continue
        a = summarise_2d([alone[i] for i in idx], thr)
        h = summarise_2d([hdr[i] for i in idx], thr)
        epe, pck = [], []
        for _ in range(num_samples):
            pick = rng.choice(idx, size=len(idx), replace=True)
            sa = summarise_2d([alone[i] for i in pick], thr)
            sh = summarise_2d([hdr[i] for i in pick], thr)
            epe.append(sa[f'EPE_{split}'] - sh[f'EPE_{split}'])
            pck.append(sh[f'PCK_{split}'] - sa[f'PCK_{split}'])
        out[split] = dict(
            frames=len(idx), alone=a, hdr=h,
            epe_gain=(a[f'EPE_{split}'] - h[f'EPE_{split}'],
                      *np.nanpercentile(epe, [2.5, 97.5])),
            pck_gain=(h[f'PCK_{split}'] - a[f'PCK_{split}'],
                      *np.nanpercentile(pck, [2.5, 97.5])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('alone', help='dump of the model.use_tdr=False run')
    parser.add_argument('hdr', help='dump of the full pipeline run')
    parser.add_argument('--num-samples', type=int, default=10000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--thr', type=float, default=0.2)
    args = parser.parse_args()
    alone = frame_results(args.alone, args.thr)
    hdr = frame_results(args.hdr, args.thr)
    if set(alone) != set(hdr):
        raise ValueError('the two dumps hold different frames')
    keys = sorted(alone)
    res = bootstrap([alone[k] for k in keys], [hdr[k] for k in keys],
                    args.num_samples, args.seed, args.thr)
    print(f'| split (frames; hands, missed alone/HDR) | EPE alone (px) | '
          f'EPE HDR (px) | EPE gain [95% CI] | PCK@{args.thr:g} alone | '
          f'PCK@{args.thr:g} HDR | PCK gain [95% CI] |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    for split, r in res.items():
        a, h = r['alone'], r['hdr']
        eg, pg = r['epe_gain'], r['pck_gain']
        print(f"| {split} ({r['frames']}; {int(a[f'hands_{split}'])}, "
              f"{int(a[f'missed_{split}'])}/{int(h[f'missed_{split}'])}) "
              f"| {a[f'EPE_{split}']:.2f} | {h[f'EPE_{split}']:.2f} "
              f'| {eg[0]:+.2f} [{eg[1]:+.2f}, {eg[2]:+.2f}] '
              f"| {a[f'PCK_{split}']:.3f} | {h[f'PCK_{split}']:.3f} "
              f'| {pg[0]:+.3f} [{pg[1]:+.3f}, {pg[2]:+.3f}] |')


if __name__ == '__main__':
    main()
