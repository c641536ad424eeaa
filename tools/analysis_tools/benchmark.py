"""Latency and throughput of the HDR pipeline and of each of its stages.

    python tools/analysis_tools/benchmark.py \
        [--config configs/hdr/hdr_paper_interhand2.6m-256x256.py] \
        [--device auto|cpu|cuda|cpu,cuda] [--batch-sizes 1,2,4,8] \
        [--num-iters 20] [--warmup 5] [--threads N] \
        [--stages hasm,crop,tdr,shpe,hdr] [--out results.json]

The pipeline (:class:`HDRPoseEstimator`) is built from an HDR config with
random weights (latency does not depend on the weights) and each stage
is timed with the code the pipeline runs, on a batch of ``N`` two-hand
crops:

- ``hasm``: ``segment`` on (N, 3, S, S) crops: normalisation, SegFormer,
  mask arg-max;
- ``crop``: ``hand_crops``: the 2N per-hand crops and masks;
- ``tdr``: ``deocclude`` on the 2N hand crops: generator and composition
  (the discriminator is not used at inference);
- ``shpe``: ``estimate`` on the 2N hand crops: DetNet maps and the
  decoding of the joints;
- ``hdr``: end to end, ``test_step`` from N uint8 crops in host memory to
  the 42 joints per image (data pre-processor, all stages, packing).

Synthetic but plausible inputs are used (random pixels, two overlapping
discs as the hand masks) so that every stage works on hands that are
present. All numbers are per two-hand image: a batch of N images is N
HASM crops and 2N TDR/SHPE crops. Latency is the batch-1 time (median and
90th percentile over the timed iterations), throughput the best
images/s over the batch sizes. Parameters, state-dict sizes and FLOPs are
printed next to them; FLOPs come from mmengine's ``FlopAnalyzer`` (one
multiply-add counts as one FLOP, like fvcore), with a handle for
``scaled_dot_product_attention`` added here; ops the analyser cannot count
are listed under the table.

This is a measurement tool: it prints numbers, it asserts nothing about
them. mmengine has no latency benchmark for arbitrary models (mmdet's
and mmseg's ``benchmark.py`` time a dataloader-driven test loop of one
model), hence this script.
"""
import argparse
import json
import math
import os
import os.path as osp
import platform
import sys
import time
from contextlib import nullcontext
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

DEFAULT_CONFIG = 'configs/hdr/hdr_paper_interhand2.6m-256x256.py'
#: all stages, in pipeline order
STAGES = ('hasm', 'crop', 'tdr', 'shpe', 'hdr')
#: poster timings on one Tesla P40 (docs/method.md section 1); the poster does
#: not say the batch size or precision
PAPER_MS = {'hasm': 12.6, 'tdr': 0.6, 'shpe': 34.0}
#: reference state-dict sizes in M values (docs/method.md section 3); TDR's
#: counts the all-ones ``mask_conv`` kernels of the authors' partial convs
SPEC_VALUES_M = {'tdr': 75.1, 'shpe': 13.0}
DEFAULT_BATCH_SIZES = {'cpu': (1, 2, 4, 8), 'cuda': (1, 2, 4, 8, 16, 32, 64)}
AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


# ----------------------------------------------------------------------
# pure helpers (tested in tests/test_tools/test_benchmark.py)
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


def parse_stages(text: str) -> List[str]:
    """``'hdr,hasm'`` -> ``['hasm', 'hdr']`` (pipeline order, no repeats).

    Raises:
        argparse.ArgumentTypeError: on an unknown stage name.
    """
    names = {s.strip() for s in text.split(',') if s.strip()}
    unknown = sorted(names - set(STAGES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f'unknown stage(s) {unknown or text!r}; choose from '
            f'{",".join(STAGES)}')
    return [s for s in STAGES if s in names]


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


def fmt(value: Optional[float], digits: int = 1) -> str:
    """A number for the table, ``'n/a'`` for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:.{digits}f}'


def markdown_table(headers: Sequence[str],
                   rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; numbers are right-aligned.

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
            [float(v.split()[0]) for v in vals]
        except (ValueError, IndexError):
            return False
        return bool(vals)

    align = ['---:' if numeric(i) else '---' for i in range(len(headers))]
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '|'.join(align) + '|']
    lines += ['| ' + ' | '.join(r) + ' |' for r in cells]
    return '\n'.join(lines)


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
    length, dim = q[-2], q[-1]
    keys, dim_v = k[-2], v[-1]
    return batch * length * keys * (dim + dim_v)


#: element-wise, reduction and shape ops: not counted, like the ops
#: FlopAnalyzer itself ignores (their cost is memory traffic, not
#: multiply-adds); any other op it cannot count is reported
ELEMENTWISE_OPS = tuple(f'aten::{op}' for op in (
    'add', 'add_', 'sub', 'rsub', 'mul', 'mul_', 'div', 'div_',
    'reciprocal', 'neg', 'abs', 'pow', 'sqrt', 'rsqrt', 'exp', 'log',
    'round', 'floor', 'clamp', 'clamp_', 'where', 'masked_fill',
    'relu', 'relu_', 'leaky_relu', 'leaky_relu_', 'gelu', 'sigmoid', 'tanh',
    'softmax', 'sum', 'mean', 'max', 'min', 'argmax', 'any', 'all',
    'eq', 'ne', 'gt', 'ge', 'lt', 'le', 'flip', 'numel', 'unflatten',
    'lift_fresh', 'linspace', 'arange', 'full', 'zeros', 'ones',
    'expand_as', 'repeat', 'type_as', 'contiguous', 'dropout', 'dropout_',
    'feature_dropout'))


def count_flops(module: nn.Module, inputs: Tuple[torch.Tensor, ...]
                ) -> Dict[str, Any]:
    """FLOPs of one forward of ``module`` (mmengine ``FlopAnalyzer``).

    Args:
        module: The module; traced with ``torch.jit`` under no_grad.
        inputs: Its positional tensor inputs.

    Returns:
        dict: ``flops``, the total in multiply-adds (None when the jit
        tracer cannot follow the module); ``unsupported``, the ops other
        than :data:`ELEMENTWISE_OPS` that the analyser met but cannot
        count, name -> calls; ``error``, the tracer's message or None.
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


def num_state_values(module: Optional[nn.Module]) -> int:
    """Number of values in a module's state dict (parameters and
    persistent buffers such as BatchNorm statistics)."""
    if module is None:
        return 0
    return sum(v.numel() for v in module.state_dict().values())


def reference_state_values(module: Optional[nn.Module]) -> int:
    """State-dict size as the authors' code stores the same network.

    Their partial convolutions keep a frozen all-ones ``mask_conv``
    weight of the shape of the image convolution's weight, which
    :class:`~hdr_mm.models.tdr.partial_conv.PartialConv2d` replaces by a
    one-channel kernel outside the state dict; they are added back here so
    that the number compares with docs/method.md's 75.1 M.
    """
    if module is None:
        return 0
    from hdr_mm.models.tdr.partial_conv import PartialConv2d
    extra = sum(m.conv.weight.numel() for m in module.modules()
                if isinstance(m, PartialConv2d))
    return num_state_values(module) + extra


# ----------------------------------------------------------------------
# the machine
def machine_info(devices: Sequence[torch.device]) -> Dict[str, Any]:
    """CPU, library versions and, for each CUDA device, its name."""
    import mmcv
    import mmengine
    import mmpose
    import mmseg
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = dict(
        cpu=cpu,
        cpu_count=os.cpu_count(),
        usable_cores=usable,
        torch_threads=torch.get_num_threads(),
        # other work on the machine skews CPU timings
        load_avg_1min=(round(os.getloadavg()[0], 2)
                       if hasattr(os, 'getloadavg') else None),
        python=platform.python_version(),
        torch=torch.__version__,
        mmengine=mmengine.__version__,
        mmcv=mmcv.__version__,
        mmseg=mmseg.__version__,
        mmpose=mmpose.__version__,
    )
    gpus = [d for d in devices if d.type == 'cuda']
    if gpus:
        info.update(
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            cudnn_benchmark=torch.backends.cudnn.benchmark,
            tf32_conv=torch.backends.cudnn.allow_tf32,
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            gpus=[torch.cuda.get_device_name(d) for d in gpus])
    return info


# ----------------------------------------------------------------------
# the pipeline and its inputs
def _resolve(path: str) -> str:
    """A config path as given, else relative to the repository root."""
    if osp.isfile(path) or osp.isabs(path):
        return path
    in_repo = osp.join(REPO_ROOT, path)
    return in_repo if osp.isfile(in_repo) else path


def build_pipeline(config: str, stage_configs: Dict[str, Optional[str]],
                   cfg_options: Optional[dict] = None):
    """The HDR pipeline of ``config`` with random weights, in eval mode.

    Args:
        config: HDR config file (``model.type='HDRPoseEstimator'``).
        stage_configs: Stage name -> config file replacing the one of the
            HDR config (None keeps it); the stage's ``cfg_options`` and
            ``checkpoint`` in the HDR config are dropped with it.
        cfg_options: Overrides merged into the HDR config.

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
    from hdr_mm.engine.config_options import merge_cfg_options
    cfg = Config.fromfile(_resolve(config))
    merge_cfg_options(cfg, cfg_options)  # refuses keys nothing would read
    if cfg.model.get('type') != 'HDRPoseEstimator':
        raise ValueError(f'{config}: model.type must be HDRPoseEstimator, '
                         f'got {cfg.model.get("type")!r}')
    for name, path in stage_configs.items():
        if path is not None:
            cfg.model[name] = dict(config=path)
    for name in ('hasm', 'tdr', 'shpe'):
        stage = cfg.model.get(name)
        if stage is not None:
            stage['config'] = _resolve(stage['config'])
            # random weights: latency does not depend on them
            stage['checkpoint'] = None
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model = MODELS.build(cfg.model)
    model = revert_sync_batchnorm(model)  # SyncBN needs a process group
    return model.eval(), cfg


def two_hand_masks(size: int, mask_names: Sequence[str]) -> torch.Tensor:
    """Masks of two overlapping discs, the left hand in front.

    Args:
        size: Side S of the two-hand crop.
        mask_names: Order of the four masks (``{l,r}_{amodal,visible}``).

    Returns:
        Tensor: (4, S, S) float {0, 1} in ``mask_names`` order.
    """
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size),
                            indexing='ij')
    radius = 0.22 * size

    def disc(cx: float) -> torch.Tensor:
        return ((xx - cx)**2 + (yy - 0.5 * size)**2 <= radius**2).float()

    right, left = disc(0.38 * size), disc(0.62 * size)
    masks = dict(r_amodal=right, l_amodal=left, l_visible=left,
                 r_visible=right * (1 - left))
    return torch.stack([masks[n] for n in mask_names])


class StageInputs:
    """The inputs of every stage for a batch of N two-hand crops.

    Args:
        model: The pipeline (gives the mask order and hand crop size).
        batch_size: N.
        size: Side S of the two-hand crops.
        device: Where the tensors live (the end-to-end input stays in host
            memory, as a data loader gives it).
        seed: Seed of the random pixels.
    """

    def __init__(self, model, batch_size: int, size: int,
                 device: torch.device, seed: int = 0) -> None:
        from mmpose.structures import PoseDataSample
        g = torch.Generator().manual_seed(seed)
        pixels = torch.randint(0, 256, (batch_size, 3, size, size),
                               generator=g, dtype=torch.uint8)
        self.crops = pixels.float().to(device)
        self.masks = two_hand_masks(size, model.mask_names)[None].repeat(
            batch_size, 1, 1, 1).to(device)
        with torch.no_grad():
            hands, hand_masks, _, _ = model.hand_crops(self.crops,
                                                       self.masks)
        self.hands, self.hand_masks = hands, hand_masks
        self.bones = torch.zeros(2 * batch_size)
        samples = []
        for _ in range(batch_size):
            s = PoseDataSample()
            s.set_metainfo(dict(
                input_size=(size, size),
                input_center=np.array([size / 2, size / 2], np.float32),
                input_scale=np.array([size, size], np.float32)))
            samples.append(s)
        self.data = dict(inputs=list(pixels), data_samples=samples)


#: stage name -> (what one image feeds it, function running it on the
#: prepared inputs)
STAGE_RUNNERS: Dict[str, Tuple[str, Callable]] = {
    'hasm': ('1 two-hand crop',
             lambda m, x: m.segment(x.crops)),
    'crop': ('1 two-hand crop -> 2 hand crops',
             lambda m, x: m.hand_crops(x.crops, x.masks)),
    'tdr': ('2 hand crops',
            lambda m, x: m.deocclude(x.hands, x.hand_masks)),
    'shpe': ('2 hand crops',
             lambda m, x: m.estimate(x.hands, x.bones)),
    'hdr': ('1 two-hand crop (uint8, host memory)',
            lambda m, x: m.test_step(x.data)),
}


# ----------------------------------------------------------------------
# sizes and FLOPs
class _Segment(nn.Module):
    """``segment`` as a module, for the FLOP tracer."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.model.segment(crops)


class _HandCrops(_Segment):

    def forward(self, crops: torch.Tensor, masks: torch.Tensor):
        return self.model.hand_crops(crops, masks)[:2]


class _Deocclude(_Segment):

    def forward(self, hands: torch.Tensor, hand_masks: torch.Tensor):
        return self.model.deocclude(hands, hand_masks)


class _ShpeMaps(_Segment):
    """SHPE's network (trunk and heat/delta/location maps) on normalised
    crops; the arg-max decoding of ``estimate`` runs in numpy and is not
    traceable (nor does it multiply)."""

    def forward(self, hands: torch.Tensor):
        shpe = self.model.shpe
        return shpe.head.forward(shpe.extract_feat(hands))


def stage_modules(model) -> Dict[str, List[nn.Module]]:
    """The networks whose weights each stage uses at inference."""
    tdr = [model.tdr.generator] if model.use_tdr else []
    return dict(
        hasm=[model.hasm], crop=[], tdr=tdr, shpe=[model.shpe],
        hdr=[model.hasm, *tdr, model.shpe])


def stage_flops(model, size: int) -> Dict[str, Dict[str, Any]]:
    """FLOPs per two-hand image of each stage (batch 1, on CPU).

    Returns:
        dict: stage -> :func:`count_flops` output plus ``note``; ``hdr``
        is the sum of the stages that could be counted.
    """
    x = StageInputs(model, 1, size, torch.device('cpu'))
    s = model.shpe_size
    plans = dict(
        hasm=(_Segment(model), (x.crops, )),
        crop=(_HandCrops(model), (x.crops, x.masks)),
        tdr=(_Deocclude(model), (x.hands, x.hand_masks)),
        shpe=(_ShpeMaps(model), (torch.zeros(2, 3, s, s), )))
    if not model.use_tdr:
        plans.pop('tdr')
    out = {}
    for name, (module, inputs) in plans.items():
        out[name] = dict(count_flops(module, inputs), note='')
    counted = [n for n in plans if out[n]['flops'] is not None]
    out['hdr'] = dict(
        flops=sum(out[n]['flops'] for n in counted) if counted else None,
        unsupported={}, error=None,
        note='sum of ' + '+'.join(counted) if counted else '')
    return out


def model_sizes(model) -> Dict[str, Dict[str, Any]]:
    """Parameters and state-dict values (M) of each network, with the
    reference size where docs/method.md gives one."""
    nets = dict(hasm=model.hasm, shpe=model.shpe)
    if model.tdr is not None:
        nets['tdr'] = model.tdr.generator
    sizes = {}
    for name, net in nets.items():
        ref = (reference_state_values(net)
               if name == 'tdr' else num_state_values(net))
        sizes[name] = dict(
            params_m=num_parameters(net) / 1e6,
            state_values_m=num_state_values(net) / 1e6,
            reference_values_m=ref / 1e6,
            spec_m=SPEC_VALUES_M.get(name))
    return sizes


# ----------------------------------------------------------------------
# timing
def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or \
        'out of memory' in str(e).lower()


def time_callable(fn: Callable[[], Any], device: torch.device, warmup: int,
                  iters: int) -> List[float]:
    """Wall time (s) of ``iters`` calls of ``fn`` after ``warmup`` calls.

    On a GPU the device is synchronised before the clock starts and
    before it stops, so that queued kernels count for the call that
    queued them.
    """
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(iters):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def bench_device(model, device: torch.device, stages: Sequence[str],
                 batch_sizes: Sequence[int], size: int, warmup: int,
                 iters: int, amp: Optional[str]
                 ) -> Dict[str, Dict[int, Dict[str, Any]]]:
    """Time every stage at every batch size on one device.

    A batch size that fails (e.g. out of GPU memory) is recorded with its
    ``error`` and ends that stage's larger batch sizes.

    Returns:
        dict: stage -> batch size -> :func:`summarize` output or
        ``{'error': message}``.
    """
    model.to(device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # fixed input shapes

    def autocast():
        return (torch.autocast(device.type, dtype=AMP_DTYPES[amp])
                if amp else nullcontext())

    results = {s: {} for s in stages}
    failed = set()
    for n in batch_sizes:
        try:
            inputs = StageInputs(model, n, size, device)
        except RuntimeError as e:
            if not _is_oom(e):
                raise
            for s in stages:
                results[s][n] = dict(error='out of memory (inputs)')
            break
        for stage in stages:
            if stage in failed:
                continue
            run = STAGE_RUNNERS[stage][1]
            try:
                with torch.inference_mode(), autocast():
                    times = time_callable(partial(run, model, inputs),
                                          device, warmup, iters)
                results[stage][n] = summarize(times, n)
            except Exception as e:
                msg = ('out of memory' if _is_oom(e) else
                       f'{type(e).__name__}: {e}'.splitlines()[0][:160])
                results[stage][n] = dict(error=msg)
                failed.add(stage)
                if device.type == 'cuda':
                    torch.cuda.empty_cache()
            print(f'[{device}] {stage:5s} batch {n:3d}: '
                  + (f'{results[stage][n]["median_ms"]:.1f} ms/batch'
                     if 'median_ms' in results[stage][n] else
                     results[stage][n]['error']),
                  file=sys.stderr, flush=True)
        inputs = None  # free the batch before the next one
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    return results


# ----------------------------------------------------------------------
# report
def _flop_cell(entry: Optional[Dict[str, Any]], notes: List[str]) -> str:
    """GFLOPs per image, with a footnote (appended to ``notes``) naming
    the ops that could not be counted or why nothing could be."""
    if entry is None:
        return 'n/a'
    cell = fmt(None if entry['flops'] is None else entry['flops'] / 1e9, 2)
    if entry.get('error'):
        notes.append('not counted: the jit tracer cannot follow this '
                     f'stage ({entry["error"].split(":")[0]}; the message '
                     'is in the --out JSON)')
        cell += f' [{len(notes)}]'
    elif entry['unsupported']:
        ops = ', '.join(f'{k} x{v}' for k, v in
                        sorted(entry['unsupported'].items()))
        notes.append(f'ops not counted (no FLOP formula): {ops}')
        cell += f' [{len(notes)}]'
    if entry['note']:
        cell += f' ({entry["note"]})'
    return cell


def report_device(device: str, results: Dict[str, Dict[int, Dict]],
                  flops: Dict[str, Dict[str, Any]],
                  params: Dict[str, int]) -> str:
    """The summary and the per-batch Markdown tables of one device."""
    notes: List[str] = []
    rows = []
    for stage, per_batch in results.items():
        one = per_batch.get(1, {})
        best = best_throughput(per_batch)
        rows.append([
            stage, STAGE_RUNNERS[stage][0],
            fmt(params[stage] / 1e6, 1) if params[stage] else '-',
            _flop_cell(flops.get(stage), notes),
            fmt(one.get('median_ms'), 1) if 'error' not in one else
            one['error'],
            fmt(one.get('p90_ms'), 1) if 'error' not in one else '',
            fmt(best[1]['images_per_s'], 2) if best else 'n/a',
            str(best[0]) if best else '-'])
    lines = [markdown_table(
        ['stage', 'input per image', 'params (M)', 'GFLOPs / image',
         'latency median (ms)', 'latency p90 (ms)', 'throughput (img/s)',
         'at batch'], rows)]
    lines += [f'[{i}] {n}' for i, n in enumerate(notes, 1)]
    detail = []
    for stage, per_batch in results.items():
        for n, s in per_batch.items():
            if 'error' in s:
                detail.append([stage, n, s['error'], '', '', ''])
            else:
                detail.append([stage, n, fmt(s['median_ms']),
                               fmt(s['p90_ms']), fmt(s['ms_per_image']),
                               fmt(s['images_per_s'], 2)])
    lines += ['', markdown_table(
        ['stage', 'batch', 'median (ms/batch)', 'p90 (ms/batch)',
         'ms / image', 'img/s'], detail)]
    stage_sum = [results[s].get(1, {}).get('median_ms')
                 for s in ('hasm', 'crop', 'tdr', 'shpe') if s in results]
    if 'hdr' in results and len(stage_sum) == 4 and None not in stage_sum \
            and 'median_ms' in results['hdr'].get(1, {}):
        lines.append(
            f'\nbatch 1: sum of the stage medians {sum(stage_sum):.1f} ms, '
            f'end to end {results["hdr"][1]["median_ms"]:.1f} ms (end to '
            'end adds the data pre-processor, the host-to-device copy and '
            'the packing of the outputs; the rest is run-to-run noise)')
    return '\n'.join(lines)


def report_sizes(sizes: Dict[str, Dict[str, Any]]) -> str:
    """Markdown table of the network sizes against docs/method.md."""
    rows = []
    for name, s in sizes.items():
        rows.append([
            name, fmt(s['params_m'], 2), fmt(s['state_values_m'], 2),
            fmt(s['reference_values_m'], 2),
            fmt(s['spec_m'], 1) if s['spec_m'] else '-'])
    return markdown_table(
        ['network', 'parameters (M)', 'state-dict values (M)',
         "values as the authors' code stores them (M)",
         'paper (M)'], rows)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Latency/throughput of the HDR pipeline and its stages '
        '(random weights).')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='HDR pipeline config (default: the paper-size '
                        'one)')
    for stage in ('hasm', 'tdr', 'shpe'):
        parser.add_argument(f'--{stage}-config',
                            help=f'replace the {stage.upper()} stage config '
                            'of --config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of the HDR config, key=value')
    parser.add_argument('--device', default='auto',
                        help="'auto' (CPU, plus CUDA when present), 'cpu', "
                        "'cuda', 'cuda:1' or a comma list")
    parser.add_argument('--batch-sizes', type=parse_int_list,
                        help='two-hand images per batch (default 1,2,4,8 '
                        'on CPU, up to 64 on a GPU)')
    parser.add_argument('--num-iters', type=int, default=20,
                        help='timed iterations per stage and batch size')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed iterations first')
    parser.add_argument('--threads', type=int,
                        help='torch.set_num_threads (default: torch\'s)')
    parser.add_argument('--stages', type=parse_stages,
                        default=list(STAGES),
                        help=f'comma list of {",".join(STAGES)}')
    parser.add_argument('--crop-size', type=int,
                        help='side of the two-hand crop (default: the HDR '
                        "config's crop_size, else the HASM input size)")
    parser.add_argument('--amp', choices=sorted(AMP_DTYPES),
                        help='run under torch.autocast with this dtype')
    parser.add_argument('--no-flops', action='store_true',
                        help='skip the FLOP count (jit tracing)')
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args(argv)
    if args.num_iters < 1 or args.warmup < 0:
        parser.error('--num-iters must be >= 1 and --warmup >= 0')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


def resolve_devices(text: str) -> List[torch.device]:
    """``--device`` -> devices; 'auto' is CPU plus the GPU if present."""
    if text == 'auto':
        names = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    else:
        names = [d.strip() for d in text.split(',') if d.strip()]
    devices = [torch.device(n) for n in names]
    for d in devices:
        if d.type == 'cuda' and not torch.cuda.is_available():
            raise SystemExit(f'--device {text}: CUDA is not available '
                             '(torch.cuda.is_available() is False)')
        if d.type not in ('cpu', 'cuda'):
            raise SystemExit(f'--device {text}: only cpu and cuda are '
                             'supported')
    return devices


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = resolve_devices(args.device)
    stage_cfgs = dict(hasm=args.hasm_config, tdr=args.tdr_config,
                      shpe=args.shpe_config)
    model, cfg = build_pipeline(args.config, stage_cfgs, args.cfg_options)
    stages = [s for s in args.stages if s != 'tdr' or model.use_tdr]
    crop = cfg.get('crop_size')
    size = int(args.crop_size or (crop[0] if crop else model.hasm_size))

    info = machine_info(devices)
    print('# HDR benchmark\n')
    print(f'config: {args.config}')
    for name in ('hasm', 'tdr', 'shpe'):
        if cfg.model.get(name):
            print(f'  {name}: {cfg.model[name]["config"]}')
    print(f'two-hand crop {size}x{size}, hand crops {model.hand_size}x'
          f'{model.hand_size} (TDR runs at {model.tdr_size}, SHPE at '
          f'{model.shpe_size}); random weights; '
          f'{args.warmup} warm-up + {args.num_iters} timed iterations; '
          f'precision {args.amp or "fp32"}')
    print('machine: ' + ', '.join(f'{k} {v}' for k, v in info.items()))
    print('paper (poster, one Tesla P40; batch and precision not stated): '
          + ', '.join(f'{"HDRM" if k == "tdr" else k.upper()} {v} ms'
                      for k, v in PAPER_MS.items()) + '\n')

    sizes = model_sizes(model)
    print('## Network sizes\n')
    print(report_sizes(sizes) + '\n')
    params = {s: sum(num_parameters(m) for m in mods)
              for s, mods in stage_modules(model).items()}
    flops = {} if args.no_flops else stage_flops(model, size)

    results = {}
    for device in devices:
        batch_sizes = args.batch_sizes or DEFAULT_BATCH_SIZES[device.type]
        res = bench_device(model, device, stages, batch_sizes, size,
                           args.warmup, args.num_iters, args.amp)
        results[str(device)] = res
        title = (torch.cuda.get_device_name(device)
                 if device.type == 'cuda' else info['cpu'])
        print(f'\n## {device} ({title}, torch threads '
              f'{torch.get_num_threads()})\n')
        print(report_device(str(device), res, flops, params))
    print('\nGFLOPs: mmengine FlopAnalyzer on batch 1, one multiply-add = '
          '1 FLOP; element-wise, reduction and shape ops are not counted.')

    out = dict(
        config=args.config, stage_configs={
            n: cfg.model[n]['config'] for n in ('hasm', 'tdr', 'shpe')
            if cfg.model.get(n)},
        crop_size=size, amp=args.amp, warmup=args.warmup,
        num_iters=args.num_iters, machine=info, sizes=sizes,
        params=params, flops=flops, paper_ms=PAPER_MS,
        results={d: {s: {str(b): v for b, v in per.items()}
                     for s, per in r.items()} for d, r in results.items()})
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=2, default=str)
        print(f'\nwrote {args.out}')
    return out


if __name__ == '__main__':
    main()
