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
==============  ============  ===========================================

Pre- and post-processing (crops, masks, composition, read-out of the
joints) are the same code in every case.
"""
import logging
import tempfile
from contextlib import nullcontext
from typing import Callable, ContextManager, Optional

import torch.nn as nn
from mmengine.logging import print_log

from hdr_mm.models.utils import (PRECISIONS, cpu_bf16_isa,
                                 inference_autocast, prepare_for_inference)

#: the backends a pipeline can run its networks with
BACKENDS = ('pytorch', 'onnxruntime')


class StageRuntime:
    """The networks the pipeline's stages run with, and their context.

    Args:
        precision: None (as built), ``'fp32'`` or ``'bf16'``.
        backend: ``'pytorch'`` or ``'onnxruntime'``.
        hasm: Replacement of HASM's ``encode_decode``, or None.
        tdr: Replacement of TDR's generator, or None.
        shpe: Replacement of the SHPE's maps (``head.forward(
            extract_feat(x))``), or None.
        device_type: Device of the models (for autocast).
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

    def context(self) -> ContextManager:
        """What every network call runs in (bf16: CPU/CUDA autocast)."""
        if self.precision is None:
            return nullcontext()
        return inference_autocast(self.precision, self.device_type)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(backend={self.backend!r}, '
                f'precision={self.precision!r})')


def check_runtime(precision: Optional[str], backend: str) -> None:
    """Refuse an unknown or impossible combination, naming it."""
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f'precision must be None or one of {PRECISIONS}, '
                         f'got {precision!r}')
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got '
                         f'{backend!r}')
    if backend == 'onnxruntime' and precision == 'bf16':
        raise ValueError("the onnxruntime graphs are float32: use "
                         "precision='fp32' (or None) with backend="
                         "'onnxruntime'")


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
        precision: See :class:`StageRuntime`.
        backend: See :class:`StageRuntime`.
        onnx_dir: Where the ONNX graphs are written (onnxruntime); None:
            a new temporary folder. In a folder that is given, files of
            the same names are replaced only if this backend wrote them
            and they are unchanged since
            (:class:`~hdr_mm.deploy.onnx_cache.OnnxExportCache`).
        num_threads: onnxruntime's intra-op threads (None: its default).

    Returns:
        StageRuntime: the networks to pass to the stages.

    Raises:
        ValueError: an unknown precision or backend, bf16 with
            onnxruntime, or an SHPE whose head cannot read maps computed
            elsewhere (onnxruntime needs ``decode_maps``).
        FileExistsError: ``onnx_dir`` holds a ``<stage>.onnx`` that this
            backend did not write, or that changed since it did.
        UnwritableFolderError: ``onnx_dir`` cannot be written.
    """
    check_runtime(precision, backend)
    present = {k: m for k, m in stages.items() if m is not None}
    device_type = next(present['hasm'].parameters()).device.type
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
    if not hasattr(getattr(stages['shpe'], 'head', None), 'decode_maps'):
        raise ValueError(
            f'backend=onnxruntime: the SHPE head '
            f'{type(getattr(stages["shpe"], "head", None)).__name__} cannot '
            'read maps computed elsewhere (no decode_maps); use the '
            'pytorch backend for this SHPE')
    from hdr_mm.deploy import OnnxExportCache, export_stage, load_ort_stage
    cache = OnnxExportCache(onnx_dir or tempfile.mkdtemp(prefix='hdr_onnx_'))
    runners: dict = {}
    for name, model in present.items():
        path = cache.claim(f'{name}.onnx')
        export_stage(name, model, path, sizes[name])
        cache.record(path)
        runners[name] = load_ort_stage(path, num_threads=num_threads)
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
