"""The modes (precisions and backends) the pipeline is timed in, and the
run that times every stage in every mode, the modes interleaved.

Each mode is a runtime of the pipeline (:data:`BENCH_MODES`: a precision
and a backend of :mod:`hdr_mm.models.hdr.runtime`, set with
``HDRPoseEstimator.set_runtime``), so the stages are timed through the
same networks the pipeline runs, ``'auto'`` included: what it chose, and
why, is the runtime's :meth:`~hdr_mm.models.hdr.runtime.StageRuntime.
describe`.
"""
import atexit
import contextlib
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import (Any, Callable, ContextManager, Dict, Optional, Sequence,
                    Tuple)

import torch
import torch.nn as nn

from hdr_mm.models.hdr.runtime import StageRuntime
from hdr_mm.models.utils import prepare_for_inference
from .harness import summarize, time_interleaved
from .pipeline import BenchInputs, build_pipeline, stage_networks


@dataclass(frozen=True)
class BenchMode:
    """How the pipeline runs in one mode (a column of the report).

    Attributes:
        precision: The runtime's precision (None, ``'fp32'``, ``'bf16'``,
            ``'int8'`` or ``'auto'``).
        backend: The runtime's backend (a name in
            :data:`~hdr_mm.models.hdr.runtime.STAGE_BACKENDS` or
            ``'auto'``).
        compile: Also ``torch.compile`` the networks (PyTorch only;
            compiled during the warm-up).
        cpu_only: The backend runs on the CPU only.
        native_bf16: The mode means bf16 only where the CPU has it
            natively (elsewhere the engine would run f32).
        int8_graphs: The runtime is given an ``onnx_dir`` holding
            quantized graphs (:func:`int8_graphs_for_timing`), which
            ``'auto'`` runs where int8 pays.
    """

    precision: Optional[str]
    backend: str
    compile: bool = False
    cpu_only: bool = False
    native_bf16: bool = False
    int8_graphs: bool = False


#: mode name -> how the pipeline runs in it (columns in this order)
BENCH_MODES: Dict[str, BenchMode] = {
    'eager': BenchMode(None, 'pytorch'),
    'fp32': BenchMode('fp32', 'pytorch'),
    'fp32c': BenchMode('fp32', 'pytorch', compile=True),
    'bf16': BenchMode('bf16', 'pytorch'),
    'ort': BenchMode('fp32', 'onnxruntime', cpu_only=True),
    'openvino': BenchMode('fp32', 'openvino', cpu_only=True),
    'openvino_bf16': BenchMode('bf16', 'openvino', cpu_only=True,
                               native_bf16=True),
    'ort_int8': BenchMode('int8', 'onnxruntime', cpu_only=True,
                          int8_graphs=True),
    'openvino_int8': BenchMode('int8', 'openvino', cpu_only=True,
                               int8_graphs=True),
    'auto': BenchMode('auto', 'auto'),
    'auto_int8': BenchMode('auto', 'auto', cpu_only=True, int8_graphs=True),
}
#: modes (columns of the report), see :mod:`hdr_mm.benchmark`
MODES = tuple(BENCH_MODES)
#: GEMM peak each mode is compared with; None: that of the precision
#: ``'auto'`` chooses (:attr:`ModeSetup.peak`)
MODE_PEAK: Dict[str, Optional[str]] = {
    name: None if mode.precision == 'auto' else
    'bf16' if mode.precision == 'bf16' else 'fp32'
    for name, mode in BENCH_MODES.items()
}

#: stage -> the calls of a mode, each ``f(inputs: BenchInputs)``
Runners = Dict[str, Callable[[BenchInputs], Any]]


@dataclass
class ModeSetup:
    """A pipeline set up for one mode, or other networks timed on its
    inputs (the authors', :mod:`.authors`).

    Attributes:
        model: The pipeline (prepared in place for the mode); None: the
            mode has no pipeline of its own and is timed on the inputs of
            the first mode that has one.
        runners: Stage -> ``f(inputs: BenchInputs)``.
        runtime: What the pipeline's stages run with; None: plain PyTorch
            fp32 (no autocast), as ``note`` says.
        note: What runs, where there is no ``runtime`` to describe it.
    """

    model: Optional[nn.Module]
    runners: Runners
    runtime: Optional[StageRuntime]
    note: Optional[str] = None

    def context(self) -> ContextManager:
        """What every timed call runs in (PyTorch bf16: autocast)."""
        if self.runtime is None:
            return contextlib.nullcontext()
        return self.runtime.context()

    @property
    def peak(self) -> str:
        """The GEMM peak to compare with: that of the precision run."""
        return ('bf16' if self.runtime is not None
                and self.runtime.precision == 'bf16' else 'fp32')

    def describe(self) -> str:
        """What the mode runs (and, for ``'auto'``, why)."""
        if self.runtime is None:
            return self.note or 'PyTorch fp32'
        return self.runtime.describe()


def int8_graphs_for_timing(model: nn.Module) -> str:
    """Export the pipeline's stage graphs and quantize them to int8,
    calibrated on one batch of the benchmark's random inputs, into a new
    temporary folder (removed at exit).

    For timing only: the activation ranges of random inputs are not those
    of real frames, so the outputs mean nothing (the speed of the int8
    kernels does not depend on them). Quantize for use, and measure the
    accuracy, with ``tools/deployment/quantize_int8.py``.

    Args:
        model: The pipeline (float32, as built).

    Returns:
        str: the folder, to give the runtime as ``onnx_dir``.
    """
    from hdr_mm.deploy import STAGE_NETWORKS
    from hdr_mm.deploy.int8 import quantize_stage
    from hdr_mm.models.hdr.runtime import export_stage_graphs
    folder = tempfile.mkdtemp(prefix='hdr_mm_bench_int8_')
    atexit.register(shutil.rmtree, folder, True)
    stages = {s: getattr(model, s) for s in ('hasm', 'tdr', 'shpe')
              if getattr(model, s) is not None}
    x = BenchInputs(model, None, 1, torch.device('cpu'))
    feeds = dict(hasm=(x.hasm, ), shpe=(x.shpe, ))
    if 'tdr' in stages:
        feeds['tdr'] = (x.tdr_x, x.tdr_mask)
    graphs = export_stage_graphs(
        folder, stages, {s: getattr(model, f'{s}_size') for s in stages},
        'benchmark')
    for stage, path in graphs.items():
        names = STAGE_NETWORKS[stage][0]
        quantize_stage(path, [{n: t.float().numpy() for n, t in
                               zip(names, feeds[stage])}])
    return folder


def prepare_mode(model: nn.Module, mode: str,
                 threads: Optional[int] = None) -> ModeSetup:
    """Set the pipeline up for ``mode`` (its runtime, built once).

    Args:
        model: The pipeline (changed in place).
        mode: One of :data:`MODES`.
        threads: The graph engines' inference threads.

    Returns:
        ModeSetup: the runners of the stages and the runtime; a graph
        engine's ONNX exports go to a temporary folder removed once they
        are loaded.
    """
    spec = BENCH_MODES[mode]
    if spec.compile:
        for stage in (model.hasm, model.tdr, model.shpe):
            if stage is not None:
                prepare_for_inference(stage.inference_module(),
                                      spec.precision, compile=True)
    onnx_dir = int8_graphs_for_timing(model) if spec.int8_graphs else None
    rt = model.set_runtime(spec.precision, spec.backend, onnx_dir=onnx_dir,
                           num_threads=threads)
    nets = stage_networks(model)
    hasm = rt.hasm or model.hasm.encode_decode
    shpe = rt.shpe or nets['shpe']
    runners: Runners = dict(
        hasm=lambda x: hasm(x.hasm, x.hasm_metas),
        shpe=lambda x: shpe(x.shpe),
        hdr=lambda x: model.test_step(x.data))
    if 'tdr' in nets:
        tdr = rt.tdr or nets['tdr']
        runners['tdr'] = lambda x: tdr(x.tdr_x, x.tdr_mask)
    return ModeSetup(model, runners, rt)


def setup_modes(config: str, cfg_options: Optional[dict],
                modes: Sequence[str], device: torch.device,
                threads: Optional[int]) -> Tuple[Dict[str, ModeSetup], Any]:
    """Build a pipeline per mode (preparing changes the networks in
    place) and set it up; each mode's runtime is printed to stderr.

    Args:
        config: The HDR pipeline config.
        cfg_options: Overrides of it.
        modes: Among :data:`MODES`.
        device: Where the pipelines run.
        threads: The graph engines' inference threads.

    Returns:
        tuple: mode -> :class:`ModeSetup`, and the loaded config.
    """
    setups, cfg = {}, None
    for mode in modes:
        model, cfg = build_pipeline(config, cfg_options)
        setups[mode] = prepare_mode(model.to(device), mode, threads)
        print(f'[{mode}] runs {setups[mode].describe()}',
              file=sys.stderr, flush=True)
    return setups, cfg


def time_modes(setups: Dict[str, ModeSetup], cfg: Any,
               device: torch.device, stages: Sequence[str],
               batch_sizes: Sequence[int], warmup: int, iters: int
               ) -> Dict[str, Dict[str, Dict[int, Dict[str, Any]]]]:
    """Time the stages of the set-up pipelines, the modes interleaved.

    For every stage and batch size the modes take turns call by call
    (:func:`time_interleaved`); a mode without a pipeline of its own
    (:attr:`ModeSetup.model` None, the authors' networks) is called on the
    very input tensors of the first mode that has one. Each result is
    also printed to stderr as it comes.

    Args:
        setups: :func:`setup_modes` output, possibly with more modes
            (:func:`~hdr_mm.benchmark.authors.authors_setup`).
        cfg: The HDR config (its ``infer_pipeline`` packs the end-to-end
            input).
        device: Where the pipelines run.
        stages: Among :data:`~hdr_mm.benchmark.pipeline.STAGES`.
        batch_sizes: Two-hand images per batch.
        warmup: Untimed calls per stage, mode and batch size.
        iters: Timed calls per stage, mode and batch size.

    Returns:
        dict: mode -> stage -> batch size -> :func:`summarize` output or
        ``{'error': message}``.

    Raises:
        ValueError: no mode has a pipeline (nothing to make inputs from).
    """
    first = next((m for m, s in setups.items() if s.model is not None),
                 None)
    if first is None:
        raise ValueError('time_modes: no mode has a pipeline to build the '
                         'inputs from')
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # fixed input shapes
    results: Dict[str, Dict[str, Dict[int, Dict[str, Any]]]] = {
        m: {} for m in setups}
    for n in batch_sizes:
        inputs = {m: BenchInputs(s.model, cfg, n, device)
                  for m, s in setups.items() if s.model is not None}
        for m, s in setups.items():
            inputs.setdefault(m, inputs[first])
        for stage in stages:
            fns = {}
            for m, setup in setups.items():
                if stage not in setup.runners:
                    continue

                def call(run=setup.runners[stage], x=inputs[m],
                         ctx=setup.context):
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
                       res else res['error']), file=sys.stderr, flush=True)
    return results


def bench_modes(config: str, cfg_options: Optional[dict],
                modes: Sequence[str], device: torch.device,
                stages: Sequence[str], batch_sizes: Sequence[int],
                warmup: int, iters: int, threads: Optional[int]
                ) -> Dict[str, Dict[str, Dict[int, Dict[str, Any]]]]:
    """Time the stages in every mode, the modes interleaved
    (:func:`setup_modes` then :func:`time_modes`).

    A pipeline is built per mode (preparing changes the networks in
    place), all are kept in memory, and for every stage and batch size
    the modes take turns call by call (:func:`time_interleaved`). Each
    result is also printed to stderr as it comes.

    Args:
        config: The HDR pipeline config.
        cfg_options: Overrides of it.
        modes: Among :data:`MODES`.
        device: Where the pipelines run.
        stages: Among :data:`~hdr_mm.benchmark.pipeline.STAGES`.
        batch_sizes: Two-hand images per batch.
        warmup: Untimed calls per stage, mode and batch size.
        iters: Timed calls per stage, mode and batch size.
        threads: The graph engines' inference threads.

    Returns:
        dict: mode -> stage -> batch size -> :func:`summarize` output or
        ``{'error': message}``.
    """
    setups, cfg = setup_modes(config, cfg_options, modes, device, threads)
    return time_modes(setups, cfg, device, stages, batch_sizes, warmup,
                      iters)
