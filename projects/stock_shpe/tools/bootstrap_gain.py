"""Paired bootstrap of HDR's gain over "SHPE alone" on the 2D metrics.

Reads the per-frame files that ``Hand2DMetric(per_frame_file=...)``
wrote for two runs of one pipeline config on the same frames (with
``model.use_tdr=False`` and the full pipeline) and prints, per split,
both columns with 95% bootstrap intervals over frames and the paired gain:
EPE (px; gain = relative error reduction, as the main job reports MPJPE,
and the difference in px) and PCK (gain in points). Frames are the unit
of resampling (:mod:`hdr_mm.evaluation.functional.bootstrap`).

    python projects/stock_shpe/tools/bootstrap_gain.py \
        ALONE/per_frame_2d.npz HDR/per_frame_2d.npz [--num-samples 10000]
"""
import argparse
import os.path as osp
import sys
from typing import Dict

import numpy as np

# the checkout's hdr_mm, as tools/*.py use it
sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__))))))
from hdr_mm.evaluation.functional import (  # noqa: E402
    bootstrap_gain, bootstrap_mean, split_masks)


def compare(alone: Dict[str, np.ndarray], hdr: Dict[str, np.ndarray],
            num_samples: int = 10000, seed: int = 0) -> Dict[str, dict]:
    """Both columns and the paired gains, per split.

    Args:
        alone: Per-frame arrays of "SHPE alone".
        hdr: Those of "HDR + SHPE", the same frames in the same order.
        num_samples: Bootstrap resamples.
        seed: Seed of the resampling.

    Returns:
        dict: per split, ``epe_alone``, ``epe_hdr`` (px), ``epe_gain``
        (relative), ``epe_diff`` (px, alone minus HDR; only when both
        columns scored the same joints), ``pck_alone``, ``pck_hdr``,
        ``pck_gain`` (HDR minus alone), each a dict with the value and its
        interval, and the counts ``frames``, ``hands``, ``missed_alone``,
        ``missed_hdr``.

    Raises:
        ValueError: the two runs saw different frames.
    """
    if alone['frames'].tolist() != hdr['frames'].tolist():
        raise ValueError('the two runs saw different frames')
    kw = dict(num_samples=num_samples, seed=seed)
    out = {}
    for split, keep in split_masks(alone['interacting']).items():
        if not keep.any():
            continue
        a = {k: v[keep] for k, v in alone.items()}
        h = {k: v[keep] for k, v in hdr.items()}
        pck = {}
        for name, fail in (('pck_alone', a['PCK_fail']),
                           ('pck_hdr', h['PCK_fail'])):
            r = bootstrap_mean(fail, a['PCK_count'], **kw)
            pck[name] = dict(mean=1 - r['mean'], low=1 - r['high'],
                             high=1 - r['low'])
        r = dict(
            frames=int(keep.sum()),
            hands=int(a['hands'].sum()),
            missed_alone=int(a['missed'].sum()),
            missed_hdr=int(h['missed'].sum()),
            epe_alone=bootstrap_mean(a['EPE_sum'], a['EPE_count'], **kw),
            epe_hdr=bootstrap_mean(h['EPE_sum'], h['EPE_count'], **kw),
            epe_gain=bootstrap_gain(a['EPE_sum'], a['EPE_count'],
                                    h['EPE_sum'], h['EPE_count'], **kw),
            pck_gain=bootstrap_mean(a['PCK_fail'] - h['PCK_fail'],
                                    a['PCK_count'], **kw),
            **pck)
        if np.array_equal(a['EPE_count'], h['EPE_count']):
            r['epe_diff'] = bootstrap_mean(a['EPE_sum'] - h['EPE_sum'],
                                           a['EPE_count'], **kw)
        out[split] = r
    return out


def table(res: Dict[str, dict]) -> str:
    """The comparison as a markdown table."""

    def ci(d, fmt='{:.2f}', scale=1.0, sign=''):
        v = [d['mean' if 'mean' in d else 'gain'], d['low'], d['high']]
        f = fmt.replace('{:', '{:' + sign)
        return (f.format(v[0] * scale) + ' [' + f.format(v[1] * scale) +
                ', ' + f.format(v[2] * scale) + ']')

    rows = ['| split (frames, hands; missed) | EPE alone (px) | '
            'EPE HDR (px) | EPE gain | PCK@0.2 alone | PCK@0.2 HDR | '
            'PCK gain (points) |', '|---|---:|---:|---:|---:|---:|---:|']
    for split, r in res.items():
        gain = ci(r['epe_gain'], '{:.1f}', 100, '+') + ' %'
        if 'epe_diff' in r:
            gain += f" ({r['epe_diff']['mean']:+.2f} px)"
        rows.append(
            f"| {split} ({r['frames']}, {r['hands']}; {r['missed_alone']}) "
            f"| {ci(r['epe_alone'])} | {ci(r['epe_hdr'])} | {gain} "
            f"| {ci(r['pck_alone'], '{:.3f}')} | {ci(r['pck_hdr'], '{:.3f}')}"
            f" | {ci(r['pck_gain'], '{:.1f}', 100, '+')} |")
    return '\n'.join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('alone', help='per-frame file of the run without '
                        'TDR (model.use_tdr=False)')
    parser.add_argument('hdr', help='per-frame file of the full pipeline')
    parser.add_argument('--num-samples', type=int, default=10000)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    res = compare(dict(np.load(args.alone)), dict(np.load(args.hdr)),
                  args.num_samples, args.seed)
    print(table(res))


if __name__ == '__main__':
    main()
