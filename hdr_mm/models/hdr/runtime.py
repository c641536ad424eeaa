"""How the pipeline's three networks run: precision and backend.

The stages' tensor-level methods (``predict_masks``, ``inpaint``, the
SHPE's ``predict``) take an optional replacement of their network. A
:class:`StageRuntime` holds those replacements and the context the
networks run in, built once, after the weights are loaded:

==============  ============  ===========================================
backend         precision     what runs
==============  ============  ===========================================
``pytorch``     None          the models as built (eager fp32)
``pytorch``     ``'fp32'``    the models prepared for inference
                              (Conv+BN folded, ``channels_last`` where
                              it pays; :func:`prepare_for_inference`)
``pytorch``     ``'bf16'``    the same in bfloat16 under CPU autocast,
                              numerically sensitive parts in float32
``onnxruntime`` None/fp32     the three networks exported to ONNX
                              (:mod:`hdr_mm.deploy`) and run by
                              onnxruntime; the glue is the same
``openvino``    None/fp32     the same graphs compiled by OpenVINO for
                              the CPU in f32
``openvino``    ``'bf16'``    ... in bf16 where the CPU has it natively
                              (AMX, AVX512-BF16), f32 elsewhere
``'auto'``      ``'auto'``    either or both: the path for this machine,
                              logged with the reason
                              (:mod:`hdr_mm.deploy.auto`)
==============  ============  ===========================================

Pre- and post-processing (crops, masks, composition, read-out of the
joints) are the same code in every case.
"""
import logging
from contextlib import nullcontext
from typing import Callable, ContextManager, Optional

import torch.nn as nn
from mmengine.logging import print_log

from hdr_mm.models.utils import (PRECISIONS, cpu_bf16_isa,
                                 inference_autocast, prepare_for_inference)

#: the backends a pipeline can run its networks with (the graph ones:
#: :data:`hdr_mm.deploy.graph_backends.GRAPH_BACKENDS`)
BACKENDS = ('pytorch', 'onnxruntime', 'openvino')
#: the precision/backend that leaves the choice to the machine
AUTO = 'auto'


class StageRuntime:
    """The networks the pipeline's stages run with, and their context.

    Args:
        precision: None (as built), ``'fp32'`` or ``'bf16'``.
        backend: ``'pytorch'``, ``'onnxruntime'`` or ``'openvino'``.
        hasm: Replacement of HASM's ``encode_decode``, or None.
        tdr: Replacement of TDR's generator, or None.
        shpe: Replacement of the SHPE's maps (``head.forward(
            extract_feat(x))``), or None.
        device_type: Device of the models (for autocast).

    Attributes:
        reason (str or None): Why this precision and backend, when
            ``'auto'`` chose them.
    """

    def __init__(self,
                 precision: Optional[str] = None,
                 backend: str = 'pytorch',
                 hasm: Optional[Callable] = None,
                 tdr: Optional[Callable] = None,
                 shpe: Optional[Callable] = None,
                 device_type: str = 'cpu') -> None:
        self.precision = precision
        self.backend = backend
        self.hasm, self.tdr, self.shpe = hasm, tdr, shpe
        self.device_type = device_type
        self.reason: Optional[str] = None

    def context(self) -> ContextManager:
        """What every network call runs in (PyTorch bf16: CPU/CUDA
        autocast; the graph backends compute their own precision)."""
        if self.precision is None or self.backend != 'pytorch':
            return nullcontext()
        return inference_autocast(self.precision, self.device_type)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(backend={self.backend!r}, '
                f'precision={self.precision!r})')


def check_runtime(precision: Optional[str], backend: str) -> None:
    """Refuse an unknown or impossible combination, naming it."""
    if precision is not None and precision not in PRECISIONS + (AUTO, ):
        raise ValueError(f'precision must be None, {AUTO!r} or one of '
                         f'{PRECISIONS}, got {precision!r}')
    if backend not in BACKENDS + (AUTO, ):
        raise ValueError(f'backend must be {AUTO!r} or one of {BACKENDS}, '
                         f'got {backend!r}')
    if backend not in ('pytorch', AUTO) and precision != AUTO:
        from hdr_mm.deploy.graph_backends import check_graph_precision
        check_graph_precision(backend, precision)


def build_runtime(stages: dict,
                  sizes: dict,
                  precision: Optional[str] = None,
                  backend: str = 'pytorch',
                  onnx_dir: Optional[str] = None,
                  num_threads: Optional[int] = None) -> StageRuntime:
    """Prepare the stage networks once (after their weights are loaded).

    Args:
        stages: ``{'hasm': model, 'tdr': model or None, 'shpe': model}``.
        sizes: The stages' input sides, same keys.
        precision: See :class:`StageRuntime`, or ``'auto'``.
        backend: See :class:`StageRuntime`, or ``'auto'``: the path for
            this machine (:func:`hdr_mm.deploy.auto.decide_runtime`),
            logged with its reason; a path that fails to load or compile
            falls back to the next with a warning naming it.
        onnx_dir: Where the ONNX graphs are written (graph backends); None:
            a new temporary folder. In a folder that is given, files of
            the same names are replaced only if this backend wrote them
            and they are unchanged since
            (:class:`~hdr_mm.deploy.onnx_cache.OnnxExportCache`).
        num_threads: The graph engine's threads (None: its default).

    Returns:
        StageRuntime: the networks to pass to the stages.

    Raises:
        ValueError: an unknown precision or backend, bf16 with
            onnxruntime, or an SHPE whose head cannot read maps computed
            elsewhere (the graph backends need ``decode_maps``).
        ImportError: a graph backend's package is not installed.
        OnnxFileError, RuntimeError: its engine cannot read or compile a
            graph.
        FileExistsError: ``onnx_dir`` holds a ``<stage>.onnx`` that this
            backend did not write, or that changed since it did.
        UnwritableFolderError: ``onnx_dir`` cannot be written.
    """
    check_runtime(precision, backend)
    present = {k: m for k, m in stages.items() if m is not None}
    device_type = next(present['hasm'].parameters()).device.type
    if AUTO in (precision, backend):
        from hdr_mm.deploy.auto import build_auto_runtime, machine_facts
        return build_auto_runtime(
            lambda p, b: build_runtime(stages, sizes, p, b, onnx_dir,
                                       num_threads), precision, backend,
            machine_facts(device_type))
    if backend == 'pytorch':
        if precision is not None:
            if precision == 'bf16' and device_type == 'cpu' and \
                    cpu_bf16_isa() == 'none':
                print_log(
                    'precision=bf16 on a CPU without AMX or AVX512-BF16: '
                    'bf16 is emulated there and slower than fp32 '
                    '(docs/benchmark.md)', logger='current',
                    level=logging.WARNING)
            for name, model in present.items():
                # TDR: only its generator runs at inference
                prepare_for_inference(
                    model.generator if name == 'tdr' else model, precision)
        return StageRuntime(precision, backend, device_type=device_type)
    from hdr_mm.deploy.graph_backends import build_graph_runners
    runners = build_graph_runners(present, sizes, backend, precision,
                                  onnx_dir, num_threads)
    return StageRuntime(
        precision, backend,
        hasm=runners['hasm'].encode_decode,
        tdr=runners.get('tdr'),
        shpe=runners['shpe'],
        device_type=device_type)


def is_prepared(model: nn.Module) -> bool:
    """Whether a pipeline's stage networks were prepared (their state
    dicts no longer match a checkpoint's: BatchNorms folded)."""
    return any(hasattr(m, '_hdr_precision') for m in model.modules())
