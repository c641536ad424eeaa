"""Bootstrap intervals over frames for mean errors and their gain.

A frame contributes the sum of its joints' errors and their number, so
the mean over a resample of frames is the joint-weighted mean that MPJPE
reports. Frames are resampled with replacement (the frame is the unit:
the joints of a frame are not independent); the same resampled frames
serve both columns of a comparison (paired bootstrap), so the interval
of the gain accounts for frames that are hard for both.
"""
from typing import Dict, Optional

import numpy as np


def bootstrap_mean(sums: np.ndarray,
                   counts: np.ndarray,
                   num_samples: int = 2000,
                   level: float = 0.95,
                   seed: int = 0) -> Dict[str, float]:
    """Joint-weighted mean error with a percentile bootstrap interval.

    Args:
        sums: (F,) per-frame sum of joint errors.
        counts: (F,) per-frame number of joints (0: the frame is left
            out).
        num_samples: Bootstrap resamples.
        level: Coverage of the interval.
        seed: Seed of the resampling.

    Returns:
        dict: ``mean``, ``low``, ``high`` (NaN without any joint) and
        ``frames`` (frames with joints).
    """
    sums, counts = _frames(sums, counts)
    if not len(sums):
        return dict(mean=float('nan'), low=float('nan'),
                    high=float('nan'), frames=0)
    idx = _resamples(len(sums), num_samples, seed)
    means = sums[idx].sum(1) / np.maximum(counts[idx].sum(1), 1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return dict(mean=float(sums.sum() / counts.sum()), low=float(lo),
                high=float(hi), frames=len(sums))


def bootstrap_gain(base_sums: np.ndarray,
                   base_counts: np.ndarray,
                   new_sums: np.ndarray,
                   new_counts: Optional[np.ndarray] = None,
                   num_samples: int = 2000,
                   level: float = 0.95,
                   seed: int = 0) -> Dict[str, float]:
    """Relative gain ``1 - mean(new) / mean(base)`` of paired frames, with
    a paired percentile bootstrap interval.

    Args:
        base_sums: (F,) per-frame error sums of the baseline.
        base_counts: (F,) their joint counts.
        new_sums: (F,) per-frame error sums of the method, same frames in
            the same order.
        new_counts: (F,) their joint counts; default ``base_counts``.
        num_samples: Bootstrap resamples.
        level: Coverage of the interval.
        seed: Seed of the resampling.

    Returns:
        dict: ``gain``, ``low``, ``high`` (fractions; positive = the method
        has lower error) and ``frames``.

    Raises:
        ValueError: the two columns do not have the same frames.
    """
    base_sums = np.asarray(base_sums, np.float64)
    new_sums = np.asarray(new_sums, np.float64)
    base_counts = np.asarray(base_counts, np.float64)
    new_counts = base_counts if new_counts is None else np.asarray(
        new_counts, np.float64)
    if not (base_sums.shape == new_sums.shape == base_counts.shape ==
            new_counts.shape):
        raise ValueError('bootstrap_gain: both columns need the same frames, '
                         f'got {base_sums.shape} and {new_sums.shape}')
    keep = (base_counts > 0) & (new_counts > 0)
    if not keep.any():
        return dict(gain=float('nan'), low=float('nan'), high=float('nan'),
                    frames=0)
    b, bc = base_sums[keep], base_counts[keep]
    n, nc = new_sums[keep], new_counts[keep]
    idx = _resamples(len(b), num_samples, seed)
    gains = 1 - (n[idx].sum(1) / nc[idx].sum(1)) / (
        b[idx].sum(1) / bc[idx].sum(1))
    lo, hi = np.quantile(gains, [(1 - level) / 2, (1 + level) / 2])
    return dict(gain=float(1 - (n.sum() / nc.sum()) / (b.sum() / bc.sum())),
                low=float(lo), high=float(hi), frames=int(keep.sum()))


def _frames(sums, counts):
    sums = np.asarray(sums, np.float64).reshape(-1)
    counts = np.asarray(counts, np.float64).reshape(-1)
    if sums.shape != counts.shape:
        raise ValueError(f'{sums.shape} sums for {counts.shape} counts')
    keep = counts > 0
    return sums[keep], counts[keep]


def _resamples(n: int, num_samples: int, seed: int) -> np.ndarray:
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    return np.random.default_rng(seed).integers(0, n, (num_samples, n))
