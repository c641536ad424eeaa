"""The timing harness: callables timed in turn, and the statistics of
their timed calls."""
import math
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU).

    Args:
        device: Where the timed work runs.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _failure(e: Exception) -> str:
    """An exception as one short line for the results."""
    return f'{type(e).__name__}: {str(e).splitlines()[0][:160]}'


def time_interleaved(fns: Dict[str, Callable[[], Any]],
                     device: torch.device, warmup: int,
                     iters: int) -> Dict[str, Any]:
    """Wall times (s) of several callables, interleaved.

    Each callable is called ``warmup`` times, then the timed calls go
    round-robin (A B C A B C ...), so a change of the shared machine's
    speed hits every callable alike and their ratios stay meaningful. On
    a GPU the device is synchronised around each timed call.

    Args:
        fns: Name -> callable without arguments.
        device: Where the callables run.
        warmup: Untimed calls of each callable first.
        iters: Timed calls of each callable.

    Returns:
        dict: name -> list of ``iters`` times, or the exception's message
        (str) for a callable that failed (it is not called again).
    """
    out: Dict[str, Any] = {}
    for name, fn in fns.items():
        try:
            for _ in range(warmup):
                fn()
            out[name] = []
        except Exception as e:
            out[name] = _failure(e)
    for _ in range(iters):
        for name, fn in fns.items():
            if isinstance(out[name], str):
                continue
            try:
                synchronize(device)
                start = time.perf_counter()
                fn()
                synchronize(device)
                out[name].append(time.perf_counter() - start)
            except Exception as e:
                out[name] = _failure(e)
    return out


def summarize(times_s: Sequence[float], batch_size: int) -> Dict[str, float]:
    """Statistics of the timed iterations of one batch size.

    Args:
        times_s: Wall time of each timed iteration (s), one batch each.
        batch_size: Images per batch.

    Returns:
        dict: ``median_ms`` and ``p90_ms`` per batch (90th percentile,
        linear interpolation), ``ms_per_image`` (median / batch size),
        ``images_per_s`` (batch size / median) and ``iters``.

    Raises:
        ValueError: ``times_s`` is empty.
    """
    if len(times_s) == 0:
        raise ValueError('summarize: no timed iterations')
    t = np.asarray(times_s, dtype=np.float64) * 1e3
    median = float(np.median(t))
    return dict(
        median_ms=median,
        p90_ms=float(np.percentile(t, 90)),
        ms_per_image=median / batch_size,
        images_per_s=batch_size * 1e3 / median if median > 0 else math.inf,
        iters=len(t))


def best_throughput(
        per_batch: Dict[int, Dict[str, Any]]
) -> Optional[Tuple[int, Dict[str, Any]]]:
    """The batch size with the most images/s and its statistics.

    Args:
        per_batch: Batch size -> :func:`summarize` output, or a dict with
            ``error`` for a batch that failed (skipped).

    Returns:
        ``(batch_size, stats)`` or None when no batch size has numbers.
    """
    ok = [(b, s) for b, s in per_batch.items() if 'images_per_s' in s]
    if not ok:
        return None
    return max(ok, key=lambda item: (item[1]['images_per_s'], -item[0]))
