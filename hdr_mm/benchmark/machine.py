"""The machine the numbers were measured on: what it is (versions, CPU,
GPU) and its dense matrix-product peak."""
import os
import time
from typing import Any, Callable, Dict

import numpy as np
import torch

from hdr_mm.models.utils import cpu_bf16_isa
from hdr_mm.utils.machine import cpu_info
from .harness import synchronize

#: the ``collect_env`` entries of the machine line, in order
ENV_KEYS = ('Python', 'PyTorch', 'TorchVision', 'OpenCV', 'MMEngine', 'GCC',
            'CUDA available')


def machine_line(device: torch.device) -> Dict[str, Any]:
    """What the numbers depend on.

    Args:
        device: The device the benchmark runs on.

    Returns:
        dict: the CPU (:func:`hdr_mm.utils.cpu_info`: its model, the cores
        this process may use, torch's threads and CPU capability), the
        native bf16 support (:func:`hdr_mm.models.utils.cpu_bf16_isa`),
        the 1-minute load average, the versions of mmengine's
        ``collect_env`` (:data:`ENV_KEYS`) and, on CUDA, the GPU.
    """
    from mmengine.utils.dl_utils import collect_env
    env = collect_env()
    cpu = cpu_info()
    info = dict(cpu=cpu['model'], usable_cores=cpu['cores'],
                torch_threads=cpu['threads'],
                cpu_capability=cpu['capability'], bf16_isa=cpu_bf16_isa())
    if cpu['isa_limits']:
        info['isa_limits'] = cpu['isa_limits']
    if hasattr(os, 'getloadavg'):
        info['load_avg_1min'] = round(os.getloadavg()[0], 2)
    for key in ENV_KEYS:
        if key in env:
            info[key] = str(env[key]).split(' (')[0]
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
        info['cuda'] = torch.version.cuda
    return info


def _gemm_kernels(n: int, dtype: torch.dtype,
                  device: torch.device) -> Dict[str, Callable[[], Any]]:
    """An ``n x n x n`` matrix product through two kernels.

    Args:
        n: The side (a multiple of 16).
        dtype: Its precision.
        device: Where it runs.

    Returns:
        dict: ``mm`` (``torch.mm``) and ``conv1x1`` (a 1x1 convolution in
        ``channels_last``, oneDNN's; on CPUs without native bf16 its bf16
        path is faster than ``torch.mm``'s), each a callable.
    """
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    x = a.t().reshape(1, n, n // 16, 16).contiguous(
        memory_format=torch.channels_last)
    w = b.t().reshape(n, n, 1, 1).contiguous(
        memory_format=torch.channels_last)
    return dict(mm=lambda: a @ b,
                conv1x1=lambda: torch.nn.functional.conv2d(x, w))


def _seconds_per_call(fn: Callable[[], Any], device: torch.device) -> float:
    """Median of 3 measurements of enough back-to-back calls of ``fn`` to
    last about 50 ms (single sub-millisecond calls are at the mercy of the
    scheduler), per call."""
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    reps = max(1, int(0.05 / max(time.perf_counter() - t0, 1e-6)))
    times = []
    for _ in range(3):
        synchronize(device)
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        synchronize(device)
        times.append((time.perf_counter() - t0) / reps)
    return float(np.median(times))


def gemm_peak(dtype: torch.dtype,
              device: torch.device,
              min_time_s: float = 0.2,
              max_size: int = 4096) -> Dict[str, Any]:
    """The dense matrix-product rate of this machine for ``dtype``.

    Square products ``n x n x n`` are timed through each kernel of
    :func:`_gemm_kernels`, with growing ``n`` (from 256, doubling up to
    ``max_size``) until one product takes ``min_time_s``; each rate is
    the median of 3 measurements of enough back-to-back calls to last
    about 50 ms, and the best rate over sizes and kernels is the peak.

    Args:
        dtype: The precision.
        device: Where the products run.
        min_time_s: A product this long ends a kernel's growing sizes.
        max_size: The largest ``n``.

    Returns:
        dict: ``gflops`` (2 n^3 / time), ``size`` (its n), ``kernel``.
    """
    best = (0.0, 0, '')
    with torch.inference_mode():
        for kernel in ('mm', 'conv1x1'):
            n = 256
            while n <= max_size:
                t = _seconds_per_call(_gemm_kernels(n, dtype, device)[kernel],
                                      device)
                rate = 2 * n**3 / t / 1e9
                if rate > best[0]:
                    best = (rate, n, kernel)
                if t >= min_time_s:
                    break
                n *= 2
    return dict(gflops=best[0], size=best[1], kernel=best[2])
