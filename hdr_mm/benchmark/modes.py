"""The modes (precisions and backends) the pipeline is timed in, and the
run that times every stage in every mode, the modes interleaved."""
import os.path as osp
import sys
import tempfile
from contextlib import nullcontext
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from hdr_mm.models.utils import inference_autocast, prepare_for_inference
from .harness import summarize, time_interleaved
from .pipeline import BenchInputs, build_pipeline, stage_networks

#: modes (columns of the report), see :mod:`hdr_mm.benchmark`
MODES = ('eager', 'fp32', 'fp32c', 'bf16', 'ort')
#: GEMM peak each mode is compared with
MODE_PEAK = dict(eager='fp32', fp32='fp32', fp32c='fp32', bf16='bf16',
                 ort='fp32')

#: stage -> the calls of a mode, each ``f(inputs: BenchInputs)``
Runners = Dict[str, Callable[[BenchInputs], Any]]


def _prepare_networks(model: nn.Module, mode: str) -> Callable[[], Any]:
    """Prepare the stage networks in place for ``fp32``, ``fp32c`` or
    ``bf16`` (:func:`prepare_for_inference`) and return the factory of
    the autocast context their calls run in."""
    stage_models = [model.hasm, model.shpe] + (
        [model.tdr.generator] if model.tdr is not None else [])
    precision = 'bf16' if mode == 'bf16' else 'fp32'
    for m in stage_models:
        prepare_for_inference(m, precision, compile=mode == 'fp32c')
    device_type = next(model.hasm.parameters()).device.type
    return lambda: inference_autocast(precision, device_type)


def _ort_runners(model: nn.Module, tmpdir: str,
                 threads: Optional[int]) -> Runners:
    """Switch the pipeline to onnxruntime (its stages exported into
    ``tmpdir``) and return the calls of its runners."""
    rt = model.set_runtime(None, 'onnxruntime', onnx_dir=tmpdir,
                           num_threads=threads)
    runners: Runners = dict(
        hasm=lambda x: rt.hasm(x.hasm, x.hasm_metas),
        shpe=lambda x: rt.shpe(x.shpe),
        hdr=lambda x: model.test_step(x.data))
    if rt.tdr is not None:
        runners['tdr'] = lambda x: rt.tdr(x.tdr_x, x.tdr_mask)
    return runners


def prepare_mode(model: nn.Module, mode: str, tmpdir: str,
                 threads: Optional[int]) -> Tuple[Runners, Callable[[], Any]]:
    """Set the pipeline up for ``mode``.

    Args:
        model: The pipeline (changed in place).
        mode: One of :data:`MODES`.
        tmpdir: Where ``ort`` writes its ONNX graphs.
        threads: onnxruntime's intra-op threads (``ort``).

    Returns:
        tuple: stage -> runner ``f(inputs: BenchInputs)``, and the context
        factory every timed call runs in.
    """
    if mode == 'ort':
        return _ort_runners(model, tmpdir, threads), nullcontext
    context: Callable[[], Any] = nullcontext
    if mode in ('fp32', 'fp32c', 'bf16'):
        context = _prepare_networks(model, mode)
    nets = stage_networks(model)
    runners: Runners = dict(
        hasm=lambda x: model.hasm.encode_decode(x.hasm, x.hasm_metas),
        shpe=lambda x: nets['shpe'](x.shpe),
        hdr=lambda x: model.test_step(x.data))
    if 'tdr' in nets:
        runners['tdr'] = lambda x: nets['tdr'](x.tdr_x, x.tdr_mask)
    return runners, context


def bench_modes(config: str, cfg_options: Optional[dict],
                modes: Sequence[str], device: torch.device,
                stages: Sequence[str], batch_sizes: Sequence[int],
                warmup: int, iters: int, threads: Optional[int]
                ) -> Dict[str, Dict[str, Dict[int, Dict[str, Any]]]]:
    """Time the stages in every mode, the modes interleaved.

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
        threads: onnxruntime's intra-op threads (``ort``).

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
