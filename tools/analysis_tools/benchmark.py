"""Latency, throughput and efficiency of the HDR stage networks and of the
whole pipeline, in several precisions and backends side by side.

    python tools/analysis_tools/benchmark.py \
        [--config configs/hdr/hdr_paper_interhand2.6m-256x256.py] \
        [--modes eager,fp32,bf16,ort] [--device cpu|cuda] \
        [--batch-sizes 1] [--num-iters 10] [--warmup 2] [--threads N] \
        [--stages hasm,tdr,shpe,hdr] [--no-flops] [--out results.json]

The pipeline (:class:`HDRPoseEstimator`) is built from an HDR config with
random weights (latency does not depend on them), once per mode:

- ``eager``: float32, the networks as the config builds them;
- ``fp32``: float32 after :func:`hdr_mm.models.utils.prepare_for_inference`
  (BatchNorms folded, ``channels_last`` where the network wants it,
  attention without its unused weights output);
- ``fp32c``: the same plus ``torch.compile`` of the networks (compiled
  during the warm-up calls, which must then be >= 1);
- ``bf16``: prepared for bf16 and run under CPU (or CUDA) autocast;
- ``ort``: the stage networks exported to ONNX and run by onnxruntime
  (CPU only), through the pipeline's own backend switch
  (``HDRPoseEstimator.set_runtime(backend='onnxruntime')``), so end to
  end the same glue calls the onnxruntime networks.

Timed, per two-hand image (a batch of N images is N HASM inputs and 2N
TDR/SHPE inputs):

- ``hasm``: ``encode_decode`` of the segmentor on pre-processed crops;
- ``tdr``: the generator ``generator(x, mask)``;
- ``shpe``: ``head.forward(extract_feat(x))``, the maps;
- ``hdr``: ``model.test_step(data)`` from N uint8 crops to the 42 joints
  per image (all stages, the glue between them, the read-out).

For each: latency (median of the timed batch-1 iterations), throughput
(best images/s over the batch sizes), the FLOPs (mmengine's
``FlopAnalyzer``: multiply-adds, counted x2 here as floating-point
operations), the GFLOP/s achieved and that figure as a fraction of the
dense GEMM peak measured in the same run for the precision used (fp32
peak for eager/fp32/ort, bf16 peak for bf16). The machine line comes
from mmengine's ``collect_env``.

This script also runs against older code that has no precision helpers
(only the ``eager`` mode is then available): copy it into a worktree of
an older commit to measure that commit's latency with the same code.
"""
import argparse
import json
import math
import os
import os.path as osp
import platform
import sys
import tempfile
import time
from contextlib import nullcontext
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

DEFAULT_CONFIG = 'configs/hdr/hdr_paper_interhand2.6m-256x256.py'
#: all stages, in pipeline order
STAGES = ('hasm', 'tdr', 'shpe', 'hdr')
#: what one two-hand image feeds each stage
STAGE_INPUT = dict(hasm='1 two-hand crop', tdr='2 hand crops',
                   shpe='2 hand crops', hdr='1 two-hand crop (uint8)')
#: modes (columns), see the module docstring
MODES = ('eager', 'fp32', 'fp32c', 'bf16', 'ort')
#: GEMM peak each mode is compared with
MODE_PEAK = dict(eager='fp32', fp32='fp32', fp32c='fp32', bf16='bf16',
                 ort='fp32')


# ----------------------------------------------------------------------
# pure helpers
def parse_int_list(text: str) -> List[int]:
    """``'1,2, 4'`` -> ``[1, 2, 4]``; every value must be a positive int.

    Raises:
        argparse.ArgumentTypeError: on an empty list or a bad value.
    """
    try:
        values = [int(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected comma-separated integers, got {text!r}')
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f'expected positive integers, got {text!r}')
    return values


def _parse_choice_list(text: str, choices: Sequence[str],
                       what: str) -> List[str]:
    names = {s.strip() for s in text.split(',') if s.strip()}
    unknown = sorted(names - set(choices))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f'unknown {what}(s) {unknown or text!r}; choose from '
            f'{",".join(choices)}')
    return [s for s in choices if s in names]


def parse_stages(text: str) -> List[str]:
    """``'hdr,hasm'`` -> ``['hasm', 'hdr']`` (pipeline order, no repeats).

    Raises:
        argparse.ArgumentTypeError: on an unknown stage name.
    """
    return _parse_choice_list(text, STAGES, 'stage')


def parse_modes(text: str) -> List[str]:
    """``'bf16,eager'`` -> ``['eager', 'bf16']`` (:data:`MODES` order)."""
    return _parse_choice_list(text, MODES, 'mode')


def summarize(times_s: Sequence[float], batch_size: int) -> Dict[str, float]:
    """Statistics of the timed iterations of one batch size.

    Args:
        times_s: Wall time of each timed iteration (s), one batch each.
        batch_size: Images per batch.

    Returns:
        dict: ``median_ms`` and ``p90_ms`` per batch (90th percentile,
        linear interpolation), ``ms_per_image`` (median / batch size),
        ``images_per_s`` (batch size / median) and ``iters``.
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


def best_throughput(per_batch: Dict[int, Dict[str, Any]]
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


def efficiency(flops_per_image: Optional[float], ms_per_image: Optional[float],
               peak_gflops: Optional[float]
               ) -> Tuple[Optional[float], Optional[float]]:
    """GFLOP/s achieved and the fraction of the peak.

    Args:
        flops_per_image: Floating-point operations per image (2 x
            multiply-adds), None if unknown.
        ms_per_image: Time per image (ms), None if not measured.
        peak_gflops: The GEMM peak (GFLOP/s), None if not measured.

    Returns:
        tuple: (GFLOP/s or None, fraction of peak or None).
    """
    if not flops_per_image or not ms_per_image:
        return None, None
    gflops = flops_per_image / ms_per_image / 1e6
    return gflops, (gflops / peak_gflops if peak_gflops else None)


def fmt(value: Optional[float], digits: int = 1) -> str:
    """A number for the table, ``'n/a'`` for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:.{digits}f}'


def markdown_table(headers: Sequence[str],
                   rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned.

    Args:
        headers: Column titles.
        rows: One sequence of cells per row, as many as ``headers``.

    Returns:
        str: The table, one line per row, without a trailing newline.
    """
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f'markdown_table: row {list(row)} has '
                             f'{len(row)} cells, expected {len(headers)}')
    cells = [[str(c) for c in row] for row in rows]

    def numeric(col: int) -> bool:
        vals = [r[col] for r in cells if r[col] not in ('', 'n/a', '-')]
        try:
            [float(v.split()[0].rstrip('%x')) for v in vals]
        except (ValueError, IndexError):
            return False
        return bool(vals)

    align = ['---:' if numeric(i) else '---' for i in range(len(headers))]
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '|'.join(align) + '|']
    lines += ['| ' + ' | '.join(r) + ' |' for r in cells]
    return '\n'.join(lines)


# ----------------------------------------------------------------------
# FLOPs
def _shape(value) -> Optional[List[int]]:
    """Shape of a traced value (a jit ``Value``), None if not a tensor."""
    ttype = value.type()
    if not isinstance(ttype, torch._C.TensorType):
        return None
    return ttype.sizes()


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FlopAnalyzer handle for ``aten::scaled_dot_product_attention``.

    ``softmax(q k^T) v`` with q (..., L, E), k (..., S, E), v (..., S, Ev)
    costs ``L*S*E`` multiply-adds for the scores and ``L*S*Ev`` for the
    weighted sum, per leading (batch, head) index; the softmax itself is
    not counted, as for the other element-wise ops.
    """
    q, k, v = (_shape(x) for x in inputs[:3])
    batch = int(np.prod(q[:-2])) if len(q) > 2 else 1
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


#: element-wise, reduction and shape ops: not counted (their cost is
#: memory traffic, not multiply-adds); other ops without a formula are
#: reported
ELEMENTWISE_OPS = tuple(f'aten::{op}' for op in (
    'add', 'add_', 'sub', 'rsub', 'mul', 'mul_', 'div', 'div_',
    'reciprocal', 'neg', 'abs', 'pow', 'sqrt', 'rsqrt', 'exp', 'log',
    'round', 'floor', 'clamp', 'clamp_', 'where', 'masked_fill', 'addcmul',
    'relu', 'relu_', 'leaky_relu', 'leaky_relu_', 'gelu', 'sigmoid', 'tanh',
    'softmax', 'sum', 'mean', 'max', 'min', 'argmax', 'any', 'all',
    'eq', 'ne', 'gt', 'ge', 'lt', 'le', 'flip', 'numel', 'unflatten',
    'lift_fresh', 'linspace', 'arange', 'full', 'zeros', 'ones',
    'expand_as', 'repeat', 'type_as', 'contiguous', 'dropout', 'dropout_',
    'feature_dropout', 'bitwise_not', 'logical_not'))


def count_flops(module: nn.Module, inputs: Tuple[torch.Tensor, ...]
                ) -> Dict[str, Any]:
    """Multiply-adds of one forward of ``module`` (mmengine
    ``FlopAnalyzer``, traced with ``torch.jit`` under no_grad).

    Returns:
        dict: ``flops``, the total in multiply-adds (None when the tracer
        cannot follow the module); ``unsupported``, the ops other than
        :data:`ELEMENTWISE_OPS` it met but cannot count, name -> calls;
        ``error``, the tracer's message or None.
    """
    from mmengine.analysis import FlopAnalyzer
    try:
        with torch.no_grad():
            analyzer = FlopAnalyzer(module, inputs)
            analyzer.set_op_handle(
                'aten::scaled_dot_product_attention', sdpa_flop_jit)
            analyzer.set_op_handle(**{op: None for op in ELEMENTWISE_OPS})
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            analyzer.tracer_warnings('none')
            total = int(analyzer.total())
            unsupported = dict(analyzer.unsupported_ops())
    except Exception as e:  # a model the jit tracer cannot follow
        return dict(flops=None, unsupported={},
                    error=f'{type(e).__name__}: {e}')
    return dict(flops=total, unsupported=unsupported, error=None)


def num_parameters(module: Optional[nn.Module]) -> int:
    """Number of parameter values of a module (0 for None)."""
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------
# the machine
def machine_line(device: torch.device) -> Dict[str, Any]:
    """What the numbers depend on: mmengine's ``collect_env`` (versions,
    CUDA, compiler), plus the CPU, the cores this process may use, torch's
    threads and CPU capability, and the load average."""
    from mmengine.utils.dl_utils import collect_env
    env = collect_env()
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(cpu=cpu, usable_cores=len(os.sched_getaffinity(0))
                if hasattr(os, 'sched_getaffinity') else os.cpu_count(),
                torch_threads=torch.get_num_threads(),
                cpu_capability=torch.backends.cpu.get_cpu_capability())
    try:
        from hdr_mm.models.utils import cpu_bf16_isa
        info['bf16_isa'] = cpu_bf16_isa()
    except ImportError:  # older hdr_mm
        pass
    if hasattr(os, 'getloadavg'):
        info['load_avg_1min'] = round(os.getloadavg()[0], 2)
    for key in ('Python', 'PyTorch', 'TorchVision', 'OpenCV', 'MMEngine',
                'GCC', 'CUDA available'):
        if key in env:
            info[key] = str(env[key]).split(' (')[0]
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
        info['cuda'] = torch.version.cuda
    return info


def _gemm_kernels(n: int, dtype: torch.dtype, device: torch.device
                  ) -> Dict[str, Callable[[], Any]]:
    """An ``n x n x n`` matrix product through two kernels: ``torch.mm``
    and a 1x1 convolution in ``channels_last`` (oneDNN; on CPUs without
    native bf16 its bf16 path is faster than ``torch.mm``'s)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    x = a.t().reshape(1, n, n // 16, 16).contiguous(
        memory_format=torch.channels_last)
    w = b.t().reshape(n, n, 1, 1).contiguous(
        memory_format=torch.channels_last)
    return dict(mm=lambda: a @ b,
                conv1x1=lambda: torch.nn.functional.conv2d(x, w))


def gemm_peak(dtype: torch.dtype, device: torch.device,
              min_time_s: float = 0.2, max_size: int = 4096
              ) -> Dict[str, Any]:
    """The dense matrix-product rate of this machine for ``dtype``.

    Square products ``n x n x n`` are timed through each kernel of
    :func:`_gemm_kernels`, with growing ``n`` (from 256, doubling up to
    ``max_size``) until one product takes ``min_time_s``; each rate is
    the median of 3 measurements of enough back-to-back calls to last
    about 50 ms, and the best rate over sizes and kernels is the peak.

    Returns:
        dict: ``gflops`` (2 n^3 / time), ``size`` (its n), ``kernel``.
    """
    best = (0.0, 0, '')
    with torch.inference_mode():
        for kernel in ('mm', 'conv1x1'):
            n = 256
            while n <= max_size:
                fn = _gemm_kernels(n, dtype, device)[kernel]
                _sync(device)
                t0 = time.perf_counter()
                fn()
                _sync(device)
                # enough calls per measurement to last ~50 ms: single
                # sub-millisecond calls are at the mercy of the scheduler
                reps = max(1, int(0.05 / max(time.perf_counter() - t0,
                                             1e-6)))
                times = []
                for _ in range(3):
                    _sync(device)
                    t0 = time.perf_counter()
                    for _ in range(reps):
                        fn()
                    _sync(device)
                    times.append((time.perf_counter() - t0) / reps)
                t = float(np.median(times))
                rate = 2 * n**3 / t / 1e9
                if rate > best[0]:
                    best = (rate, n, kernel)
                if t >= min_time_s:
                    break
                n *= 2
    return dict(gflops=best[0], size=best[1], kernel=best[2])


# ----------------------------------------------------------------------
# the pipeline, its stage networks and their inputs
def _resolve(path: str) -> str:
    """A config path as given, else relative to the repository root."""
    if osp.isfile(path) or osp.isabs(path):
        return path
    in_repo = osp.join(REPO_ROOT, path)
    return in_repo if osp.isfile(in_repo) else path


def build_pipeline(config: str, cfg_options: Optional[dict] = None):
    """The HDR pipeline of ``config`` with random weights, in eval mode.

    Returns:
        tuple: the model and the loaded HDR config.
    """
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    # a quiet current logger: the stages' init_weights log every tensor
    MMLogger.get_instance('hdr_benchmark', log_level='WARNING')
    cfg = Config.fromfile(_resolve(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.model.get('type') != 'HDRPoseEstimator':
        raise ValueError(f'{config}: model.type must be HDRPoseEstimator, '
                         f'got {cfg.model.get("type")!r}')
    for name in ('hasm', 'tdr', 'shpe'):
        stage = cfg.model.get(name)
        if stage is not None:
            stage['config'] = _resolve(stage['config'])
            stage['checkpoint'] = None  # random weights
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model = revert_sync_batchnorm(model)  # SyncBN needs a process group
    return model.eval(), cfg


# The stage wrappers and stage_input_size below have twins in hdr_mm
# (hdr_mm.deploy.STAGE_WRAPPERS, stage_builder.stage_input_size); the
# script keeps its own so that its eager mode runs in a worktree of a
# commit that predates them (the e4b4b32 baseline of docs/benchmark.md).
class _HASMNet(nn.Module):
    """HASM's network: backbone + head logits (for FLOPs)."""

    def __init__(self, seg: nn.Module) -> None:
        super().__init__()
        self.seg = seg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seg.decode_head.forward(self.seg.extract_feat(x))


class _TDRNet(nn.Module):
    """TDR's generator."""

    def __init__(self, gen: nn.Module) -> None:
        super().__init__()
        self.gen = gen

    def forward(self, x: torch.Tensor, m: torch.Tensor):
        return self.gen(x, m)


class _SHPENet(nn.Module):
    """SHPE's trunk and heat/delta/location maps."""

    def __init__(self, pe: nn.Module) -> None:
        super().__init__()
        self.pe = pe

    def forward(self, x: torch.Tensor):
        return self.pe.head.forward(self.pe.extract_feat(x))


def stage_input_size(stage_model: nn.Module) -> int:
    """A stage's square input side from its config (``input_size`` mmpose
    style or ``crop_size`` mmseg style)."""
    for key in ('input_size', 'crop_size'):
        size = stage_model.cfg.get(key)
        if size is not None:
            return int(size if isinstance(size, int) else size[0])
    raise KeyError('stage config states neither input_size nor crop_size')


class BenchInputs:
    """Inputs of every stage network for a batch of N two-hand images.

    Args:
        model: The pipeline.
        cfg: The HDR config (its ``infer_pipeline`` packs the end-to-end
            input, as the inferencer does); None: no end-to-end input.
        batch_size: N.
        device: Where the tensors live (the end-to-end input stays in
            host memory, as a data loader gives it).
    """

    def __init__(self, model, cfg: Optional[Any], batch_size: int,
                 device: torch.device) -> None:
        from mmengine.dataset import Compose, pseudo_collate
        g = torch.Generator().manual_seed(0)
        n = batch_size
        size = stage_input_size(model.hasm)
        crops = [torch.randint(0, 256, (3, size, size), generator=g,
                               dtype=torch.uint8) for _ in range(n)]
        with torch.no_grad():
            self.hasm = model.hasm.data_preprocessor(
                dict(inputs=crops), False)['inputs'].to(device)
        self.hasm_metas = [dict(img_shape=(size, size),
                                pad_shape=(size, size),
                                ori_shape=(size, size))] * n
        if model.tdr is not None:
            t = stage_input_size(model.tdr)
            c = model.tdr.generator.in_channels
            disc = (torch.rand(2 * n, 1, t, t, generator=g) > 0.3).float()
            self.tdr_mask = disc.expand(-1, c, -1, -1).contiguous().to(
                device)
            self.tdr_x = (torch.randn(2 * n, c, t, t, generator=g) *
                          self.tdr_mask.cpu()).to(device)
        s = stage_input_size(model.shpe)
        self.shpe = torch.randn(2 * n, 3, s, s, generator=g).to(device)
        self.data = None
        if cfg is None:
            return
        # end to end: a 640x480 frame whose two-hand box is a quarter of
        # its width, through the config's inference pipeline
        frame = torch.randint(0, 256, (480, 640, 3), generator=g,
                              dtype=torch.uint8).numpy()
        pipeline = Compose(cfg.infer_pipeline)
        self.data = pseudo_collate([
            pipeline(dict(img=frame, img_path=f'{i}.jpg',
                          bbox=np.array([[240, 160, 400, 320]], np.float32),
                          bbox_score=np.ones(1, np.float32)))
            for i in range(n)
        ])


def stage_networks(model) -> Dict[str, nn.Module]:
    """The networks of the stages (what is timed and counted)."""
    nets = dict(hasm=_HASMNet(model.hasm), shpe=_SHPENet(model.shpe))
    if model.tdr is not None:
        nets['tdr'] = _TDRNet(model.tdr.generator)
    return nets


def stage_flops(model, stages: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """Multiply-adds per two-hand image of each stage network (batch 1 on
    the CPU; ``hdr`` is the sum of the three)."""
    x = BenchInputs(model, None, 1, torch.device('cpu'))
    nets = stage_networks(model)
    plans = dict(hasm=(x.hasm, ), shpe=(x.shpe, ))
    if 'tdr' in nets:
        plans['tdr'] = (x.tdr_x, x.tdr_mask)
    out = {}
    for name, inputs in plans.items():
        if name in stages or 'hdr' in stages:
            out[name] = count_flops(nets[name], inputs)
    counted = [n for n in out if out[n]['flops'] is not None]
    out['hdr'] = dict(
        flops=sum(out[n]['flops'] for n in counted) if counted else None,
        unsupported={}, error=None)
    return out


# ----------------------------------------------------------------------
# modes
def prepare_mode(model, mode: str, tmpdir: str, threads: Optional[int]
                 ) -> Tuple[Dict[str, Callable], Callable[[], Any]]:
    """Set the pipeline up for ``mode``.

    Returns:
        tuple: stage -> runner ``f(inputs: BenchInputs)``, and the context
        factory every timed call runs in.
    """
    nets = stage_networks(model)
    context: Callable[[], Any] = nullcontext
    if mode in ('fp32', 'fp32c', 'bf16'):
        try:
            from hdr_mm.models.utils import (inference_autocast,
                                             prepare_for_inference)
        except ImportError:
            raise SystemExit(f'--modes {mode}: this hdr_mm has no '
                             'hdr_mm.models.utils.prepare_for_inference '
                             '(only eager)')
        stage_models = [model.hasm, model.shpe] + (
            [model.tdr.generator] if model.tdr is not None else [])
        precision = 'bf16' if mode == 'bf16' else 'fp32'
        for m in stage_models:
            prepare_for_inference(m, precision, compile=mode == 'fp32c')
        device_type = next(model.hasm.parameters()).device.type

        def context():  # noqa: F811
            return inference_autocast(precision, device_type)

    runners: Dict[str, Callable] = dict(
        hasm=lambda x: model.hasm.encode_decode(x.hasm, x.hasm_metas),
        shpe=lambda x: nets['shpe'](x.shpe),
        hdr=lambda x: model.test_step(x.data))
    if 'tdr' in nets:
        runners['tdr'] = lambda x: nets['tdr'](x.tdr_x, x.tdr_mask)
    if mode == 'ort':
        if not hasattr(model, 'set_runtime'):
            raise SystemExit('--modes ort: this hdr_mm pipeline has no '
                             'backend switch (set_runtime)')
        rt = model.set_runtime(None, 'onnxruntime', onnx_dir=tmpdir,
                               num_threads=threads)
        runners = dict(
            hasm=lambda x: rt.hasm(x.hasm, x.hasm_metas),
            shpe=lambda x: rt.shpe(x.shpe),
            hdr=lambda x: model.test_step(x.data))
        if rt.tdr is not None:
            runners['tdr'] = lambda x: rt.tdr(x.tdr_x, x.tdr_mask)
    return runners, context


# ----------------------------------------------------------------------
# timing
def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_interleaved(fns: Dict[str, Callable[[], Any]],
                     device: torch.device, warmup: int,
                     iters: int) -> Dict[str, Any]:
    """Wall times (s) of several callables, interleaved.

    Each callable is called ``warmup`` times, then the timed calls go
    round-robin (A B C A B C ...), so a change of the shared machine's
    speed hits every callable alike and their ratios stay meaningful. On
    a GPU the device is synchronised around each timed call.

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
            out[name] = f'{type(e).__name__}: {str(e).splitlines()[0][:160]}'
    for _ in range(iters):
        for name, fn in fns.items():
            if isinstance(out[name], str):
                continue
            try:
                _sync(device)
                start = time.perf_counter()
                fn()
                _sync(device)
                out[name].append(time.perf_counter() - start)
            except Exception as e:
                out[name] = (f'{type(e).__name__}: '
                             f'{str(e).splitlines()[0][:160]}')
    return out


def bench_modes(config: str, cfg_options: Optional[dict],
                modes: Sequence[str], device: torch.device,
                stages: Sequence[str], batch_sizes: Sequence[int],
                warmup: int, iters: int, threads: Optional[int]
                ) -> Dict[str, Dict[str, Dict[int, Dict[str, Any]]]]:
    """Time the stages in every mode, the modes interleaved.

    A pipeline is built per mode (preparing changes the networks in
    place), all are kept in memory, and for every stage and batch size
    the modes take turns call by call (:func:`time_interleaved`).

    Returns:
        dict: mode -> stage -> batch size -> :func:`summarize` output or
        ``{'error': message}``.
    """
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # fixed input shapes
    results: Dict[str, Dict[str, Dict[int, Dict[str, Any]]]] = {
        m: {} for m in modes}
    with tempfile.TemporaryDirectory() as tmpdir:
        models, setups = {}, {}
        for mode in modes:
            model, cfg = build_pipeline(config, cfg_options)
            models[mode] = model.to(device)
            setups[mode] = prepare_mode(model, mode,
                                        osp.join(tmpdir, mode), threads)
        for n in batch_sizes:
            inputs = {m: BenchInputs(models[m], cfg, n, device)
                      for m in modes}
            for stage in stages:
                fns = {}
                for m in modes:
                    runners, context = setups[m]
                    if stage not in runners:
                        continue

                    def call(run=runners[stage], x=inputs[m], ctx=context):
                        with torch.inference_mode(), ctx():
                            return run(x)

                    fns[m] = call
                times = time_interleaved(fns, device, warmup, iters)
                for m, t in times.items():
                    res = (dict(error=t) if isinstance(t, str) else
                           summarize(t, n))
                    results[m].setdefault(stage, {})[n] = res
                    print(f'[{m}] {stage:5s} batch {n}: ' +
                          (f'{res["median_ms"]:.1f} ms' if 'median_ms' in
                           res else res['error']), file=sys.stderr,
                          flush=True)
    return results


# ----------------------------------------------------------------------
# report
def report(results: Dict[str, Dict[str, Dict[int, Dict]]],
           flops: Dict[str, Dict[str, Any]], peaks: Dict[str, Dict],
           stages: Sequence[str]) -> Tuple[str, Dict[str, Dict[str, Any]]]:
    """The latency table and the efficiency table.

    Args:
        results: mode -> :func:`bench_mode` output.
        flops: :func:`stage_flops` output (may be empty).
        peaks: ``'fp32'``/``'bf16'`` -> :func:`gemm_peak` output.
        stages: Stages in order.

    Returns:
        tuple: the Markdown text and, per mode and stage, the summary
        numbers (``ms``, ``img_per_s``, ``gflops``, ``of_peak``).
    """
    modes = list(results)
    summary: Dict[str, Dict[str, Any]] = {m: {} for m in modes}
    lat_rows, eff_rows = [], []
    for stage in stages:
        macs = (flops.get(stage) or {}).get('flops')
        fl = 2.0 * macs if macs else None
        lat, eff = [stage, STAGE_INPUT[stage],
                    fmt(fl / 1e9 if fl else None, 2)], [stage]
        for mode in modes:
            per_batch = results[mode].get(stage, {})
            one = per_batch.get(1, {})
            best = best_throughput(per_batch)
            ms = one.get('median_ms')
            peak = peaks.get(MODE_PEAK[mode], {}).get('gflops')
            gflops, frac = efficiency(fl, ms, peak)
            summary[mode][stage] = dict(
                ms=ms, img_per_s=best[1]['images_per_s'] if best else None,
                gflops=gflops, of_peak=frac, error=one.get('error'))
            lat += [fmt(ms) if 'error' not in one else 'failed',
                    fmt(best[1]['images_per_s'], 2) if best else 'n/a']
            eff += [fmt(gflops), fmt(100 * frac, 1) + '%' if frac is not
                    None else 'n/a']
        lat_rows.append(lat)
        eff_rows.append(eff)
    lines = [markdown_table(
        ['stage', 'input per image', 'GFLOP / image'] +
        [h for m in modes for h in (f'{m} ms', f'{m} img/s')], lat_rows)]
    if 'eager' in modes:
        ref = summary['eager'].get('hdr', {}).get('ms')
        speed = [f'{m} {ref / summary[m]["hdr"]["ms"]:.2f}x'
                 for m in modes if m != 'eager' and ref and
                 summary[m].get('hdr', {}).get('ms')]
        if speed:
            lines.append('\nend-to-end speed-up over eager: ' +
                         ', '.join(speed))
    lines += ['', markdown_table(
        ['stage'] + [h for m in modes for h in
                     (f'{m} GFLOP/s', f'{m} of {MODE_PEAK[m]} peak')],
        eff_rows)]
    notes = []
    for stage, entry in flops.items():
        if entry.get('error'):
            notes.append(f'{stage}: FLOPs not counted ('
                         f'{entry["error"].split(":")[0]})')
        elif entry.get('unsupported'):
            notes.append(f'{stage}: ops without a FLOP formula: ' + ', '.join(
                f'{k} x{v}' for k, v in sorted(entry['unsupported'].items())))
    if notes:
        lines += [''] + notes
    errors = [f'{m} {s} batch {b}: {r["error"]}' for m in modes
              for s, per in results[m].items() for b, r in per.items()
              if 'error' in r]
    if errors:
        lines += ['', 'failed: ' + '; '.join(errors)]
    return '\n'.join(lines), summary


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Latency, throughput and efficiency of the HDR stages '
        'and pipeline (random weights) in several precisions/backends.')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='HDR pipeline config (default: paper size)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of the HDR config, key=value')
    parser.add_argument('--modes', type=parse_modes, default=['eager'],
                        help=f'comma list of {",".join(MODES)} (default '
                        'eager)')
    parser.add_argument('--device', default='cpu',
                        help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--batch-sizes', type=parse_int_list, default=[1],
                        help='two-hand images per batch (default 1)')
    parser.add_argument('--num-iters', type=int, default=10,
                        help='timed iterations per stage and batch size')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed iterations first')
    parser.add_argument('--threads', type=int,
                        help="torch.set_num_threads and onnxruntime's "
                        'intra-op threads (default: torch\'s)')
    parser.add_argument('--stages', type=parse_stages, default=list(STAGES),
                        help=f'comma list of {",".join(STAGES)}')
    parser.add_argument('--no-flops', action='store_true',
                        help='skip the FLOP count')
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args(argv)
    if args.num_iters < 1 or args.warmup < 0:
        parser.error('--num-iters must be >= 1 and --warmup >= 0')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: CUDA is not available')
    if device.type not in ('cpu', 'cuda'):
        parser.error('--device: only cpu and cuda are supported')
    if device.type == 'cuda' and 'ort' in args.modes:
        parser.error('--modes ort runs on the CPU only')
    if 'fp32c' in args.modes and args.warmup < 1:
        parser.error('--modes fp32c compiles during the warm-up: '
                     '--warmup must be >= 1')
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    info = machine_line(device)
    peaks = dict(fp32=gemm_peak(torch.float32, device))
    if 'bf16' in args.modes:
        peaks['bf16'] = gemm_peak(torch.bfloat16, device)

    model, cfg = build_pipeline(args.config, args.cfg_options)
    stages = [s for s in args.stages if s != 'tdr' or model.tdr is not None]
    flops = {} if args.no_flops else stage_flops(model, stages)
    model = None
    results = bench_modes(args.config, args.cfg_options, args.modes, device,
                          stages, args.batch_sizes, args.warmup,
                          args.num_iters, args.threads)
    text, summary = report(results, flops, peaks, stages)

    print('# HDR benchmark\n')
    print(f'config: {args.config}; random weights; batch sizes '
          f'{",".join(map(str, args.batch_sizes))}; {args.warmup} warm-up '
          f'+ {args.num_iters} timed iterations, modes interleaved; latency = '
          'median at batch 1, per two-hand image')
    print('machine: ' + ', '.join(f'{k} {v}' for k, v in info.items()))
    print('GEMM peak: ' + ', '.join(
        f'{k} {v["gflops"]:.1f} GFLOP/s ({v["kernel"]}, n={v["size"]})'
        for k, v in peaks.items()) + '\n')
    print(text)
    print('\nGFLOP: 2 x multiply-adds of the network (mmengine FlopAnalyzer; '
          'element-wise ops not counted); hdr adds the glue (crops, '
          'pre-processing, read-out) to the time but not to the count.')
    out = dict(config=args.config, modes=args.modes,
               batch_sizes=args.batch_sizes, warmup=args.warmup,
               num_iters=args.num_iters, machine=info, gemm_peak=peaks,
               flops=flops, summary=summary,
               results={m: {s: {str(b): v for b, v in per.items()}
                            for s, per in r.items()}
                        for m, r in results.items()})
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=2, default=str)
        print(f'\nwrote {args.out}')
    return out


if __name__ == '__main__':
    main()
