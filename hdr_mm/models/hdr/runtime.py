"""How the pipeline's three networks run: precision and backend.

Each stage is entered through its inference entry only
(``predict_masks`` of HASM, ``inpaint`` of TDR, ``estimate_joints`` of
SHPE), which takes an optional replacement of its network. A backend,
registered in :data:`STAGE_BACKENDS`, prepares the stages or builds those
replacements through the hooks every stage model has
(:class:`~hdr_mm.models.utils.StageEntryMixin`), once, after the weights
are loaded; a :class:`StageRuntime` holds the result:

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
from typing import Callable, ContextManager, Dict, Iterable, Optional

from mmengine.logging import print_log
from mmengine.registry import Registry

from hdr_mm.models.utils import (PRECISIONS, cpu_bf16_isa,
                                 inference_autocast)

#: backend name -> class building the stages' networks
STAGE_BACKENDS = Registry('HDR stage backend')


class StageRuntime:
    """The networks the pipeline's stages run with, and their context.

    Args:
        precision: None (as built), ``'fp32'`` or ``'bf16'``.
        backend: ``'pytorch'`` or ``'onnxruntime'``.
        hasm: The ``network`` of HASM's ``predict_masks`` (an
            ``encode_decode``), or None (the model's own).
        tdr: The ``network`` of TDR's ``inpaint`` (a generator), or None.
        shpe: The ``network`` of SHPE's ``estimate_joints`` (maps), or
            None.
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


@STAGE_BACKENDS.register_module(name='pytorch')
class PyTorchBackend:
    """The stage models themselves, prepared for a precision if one is
    given (:meth:`~hdr_mm.models.utils.StageEntryMixin.prepare_inference`).

    Args:
        precision: None, ``'fp32'`` or ``'bf16'``.
        onnx_dir: Unused.
        num_threads: Unused.
    """

    def __init__(self, precision: Optional[str] = None,
                 onnx_dir: Optional[str] = None,
                 num_threads: Optional[int] = None) -> None:
        self.precision = precision

    @staticmethod
    def check_precision(precision: Optional[str]) -> None:
        """Every precision runs in PyTorch."""

    def networks(self, stages: Dict[str, object], sizes: Dict[str, int],
                 device_type: str) -> Dict[str, Optional[Callable]]:
        """Prepare the stages in place; their own networks run.

        Args:
            stages: Stage name -> stage model (None left out).
            sizes: Stage name -> input side.
            device_type: Device of the models.

        Returns:
            dict: stage name -> None.
        """
        if self.precision is None:
            return {}
        if self.precision == 'bf16' and device_type == 'cpu' and \
                cpu_bf16_isa() == 'none':
            print_log(
                'precision=bf16 on a CPU without AMX or AVX512-BF16: bf16 '
                'is emulated there and slower than fp32 (docs/benchmark.md)',
                logger='current', level=logging.WARNING)
        for model in stages.values():
            model.prepare_inference(self.precision)
        return {}


@STAGE_BACKENDS.register_module(name='onnxruntime')
class OnnxRuntimeBackend:
    """The stage networks exported to ONNX and run by onnxruntime
    (:meth:`~hdr_mm.models.utils.StageEntryMixin.export_onnx`,
    :meth:`~hdr_mm.models.utils.StageEntryMixin.load_onnx`).

    Args:
        precision: None or ``'fp32'`` (the graphs are float32).
        onnx_dir: Where the graphs are written; None: a new temporary
            folder. In a folder that is given, files of the same names are
            replaced only if this backend wrote them and they are
            unchanged since
            (:class:`~hdr_mm.deploy.onnx_cache.OnnxExportCache`).
        num_threads: onnxruntime's intra-op threads (None: its default).
    """

    def __init__(self, precision: Optional[str] = None,
                 onnx_dir: Optional[str] = None,
                 num_threads: Optional[int] = None) -> None:
        self.onnx_dir = onnx_dir
        self.num_threads = num_threads

    @staticmethod
    def check_precision(precision: Optional[str]) -> None:
        """Refuse bf16: the graphs are float32.

        Raises:
            ValueError: ``precision == 'bf16'``.
        """
        if precision == 'bf16':
            raise ValueError("the onnxruntime graphs are float32: use "
                             "precision='fp32' (or None) with backend="
                             "'onnxruntime'")

    def networks(self, stages: Dict[str, object], sizes: Dict[str, int],
                 device_type: str) -> Dict[str, Optional[Callable]]:
        """Export each stage's network and open it with onnxruntime.

        Args:
            stages: Stage name -> stage model (None left out).
            sizes: Stage name -> input side.
            device_type: Unused (onnxruntime runs on the CPU).

        Returns:
            dict: stage name -> its onnxruntime network.

        Raises:
            FileExistsError: ``onnx_dir`` holds a ``<stage>.onnx`` that
                this backend did not write, or that changed since.
            UnwritableFolderError: ``onnx_dir`` cannot be written.
            ValueError: a stage cannot run another implementation of its
                network (e.g. an SHPE head without ``decode_maps``).
        """
        from hdr_mm.deploy import OnnxExportCache
        cache = OnnxExportCache(self.onnx_dir or
                                tempfile.mkdtemp(prefix='hdr_onnx_'))
        out = {}
        for name, model in stages.items():
            path = cache.claim(f'{name}.onnx')
            model.export_onnx(path, sizes[name])
            cache.record(path)
            out[name] = model.load_onnx(path, self.num_threads)
        return out


def check_runtime(precision: Optional[str], backend: str) -> None:
    """Refuse an unknown or impossible combination, naming it.

    Args:
        precision: None or one of ``PRECISIONS``.
        backend: A name in :data:`STAGE_BACKENDS`.

    Raises:
        ValueError: naming what is wrong.
    """
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f'precision must be None or one of {PRECISIONS}, '
                         f'got {precision!r}')
    runner = STAGE_BACKENDS.get(backend)
    if runner is None:
        raise ValueError(f'backend must be one of '
                         f'{tuple(STAGE_BACKENDS.module_dict)}, got '
                         f'{backend!r}')
    runner.check_precision(precision)


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
        backend: A name in :data:`STAGE_BACKENDS`.
        onnx_dir: Where the ONNX graphs are written (onnxruntime); see
            :class:`OnnxRuntimeBackend`.
        num_threads: onnxruntime's intra-op threads (None: its default).

    Returns:
        StageRuntime: the networks to pass to the stages' entries.

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
    runner = STAGE_BACKENDS.get(backend)(precision, onnx_dir, num_threads)
    networks = runner.networks(present, sizes, device_type)
    return StageRuntime(precision, backend, device_type=device_type,
                        **networks)


def is_prepared(stages: Iterable) -> bool:
    """Whether any stage was prepared for inference (its state dict no
    longer matches a checkpoint's: BatchNorms folded).

    Args:
        stages: Stage models (None skipped).

    Returns:
        bool: a stage reports an ``inference_precision``.
    """
    return any(s.inference_precision is not None for s in stages
               if s is not None)
