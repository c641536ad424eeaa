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
``openvino``    None/fp32     the same graphs compiled by OpenVINO for
                              the CPU in f32
``openvino``    ``'bf16'``    ... in bf16 where the CPU has it natively
                              (AMX, AVX512-BF16), f32 elsewhere
``onnxruntime`` ``'int8'``    the quantized graphs ``<stage>.int8.onnx``
or ``openvino``               that ``tools/deployment/quantize_int8.py``
                              wrote into ``onnx_dir`` (required), fp32
                              islands included (:mod:`hdr_mm.deploy.int8`)
``'auto'``      ``'auto'``    either or both: the path for this machine,
                              logged with the reason
                              (:mod:`hdr_mm.deploy.auto`)
==============  ============  ===========================================

Pre- and post-processing (crops, masks, composition, read-out of the
joints) are the same code in every case.

int8 runs when asked for (``precision='int8'``, with a graph backend or
``'auto'``: both engines, OpenVINO first on a CPU with VNNI) or when
``precision='auto'`` finds the quantized graphs in ``onnx_dir`` on a CPU
where int8 pays (VNNI or AVX2, no AMX; :mod:`hdr_mm.deploy.auto`). The
float32 graphs are exported into ``onnx_dir`` as for fp32 (the cache's
rules), and the loader refuses a quantized graph made from another export
of them (the weights changed since: quantize again) or a missing one,
naming it.
"""
import logging
import tempfile
import warnings
from contextlib import nullcontext
from typing import Callable, ContextManager, Dict, Iterable, Optional

import torch
from mmengine.logging import print_log
from mmengine.registry import Registry

from hdr_mm.models.utils import (PRECISIONS, cpu_bf16_isa,
                                 inference_autocast)

#: backend name -> class building the stages' networks
STAGE_BACKENDS = Registry('HDR stage backend')
#: the precision/backend that leaves the choice to the machine
AUTO = 'auto'
#: the quantized graphs' precision (graph backends only; 'auto' chooses
#: it only where the user quantized the graphs)
INT8 = 'int8'
#: every precision a runtime takes besides None and 'auto'
RUNTIME_PRECISIONS = PRECISIONS + (INT8, )


class StageRuntime:
    """The networks the pipeline's stages run with, and their context.

    Args:
        precision: None (as built), ``'fp32'``, ``'bf16'`` or (graph
            backends) ``'int8'``.
        backend: A name in :data:`STAGE_BACKENDS` (``'pytorch'``,
            ``'onnxruntime'``, ``'openvino'``).
        hasm: The ``network`` of HASM's ``predict_masks`` (an
            ``encode_decode``), or None (the model's own).
        tdr: The ``network`` of TDR's ``inpaint`` (a generator), or None.
        shpe: The ``network`` of SHPE's ``estimate_joints`` (maps), or
            None.
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

    def describe(self, why: bool = True) -> str:
        """What runs and why, for the logs, e.g. ``'onnxruntime fp32,
        chosen by auto: a CPU without native bf16 [...]: ...'`` or
        ``'PyTorch fp32 (as built), as asked'``.

        Args:
            why: Add the reason ``'auto'`` gave (False: ``'onnxruntime
                fp32, chosen by auto'``, when the reason was logged
                already).

        Returns:
            str: the path (:func:`hdr_mm.deploy.auto.describe_path`) and
            how it was chosen.
        """
        from hdr_mm.deploy.auto import describe_path
        path = describe_path((self.precision, self.backend))
        if self.reason is None:
            return f'{path}, as asked'
        return f'{path}, chosen by auto' + (f': {self.reason}' if why else '')

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
        """Every precision but int8 runs in PyTorch.

        Raises:
            ValueError: int8, which runs quantized ONNX graphs only.
        """
        if precision == INT8:
            raise ValueError(
                "precision='int8' runs the quantized ONNX graphs "
                "(tools/deployment/quantize_int8.py): use backend="
                "'onnxruntime' or 'openvino' with onnx_dir holding them, "
                "not backend='pytorch'")

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


class GraphBackend:
    """The stage networks exported to ONNX and run by a graph engine
    (:meth:`~hdr_mm.models.utils.StageEntryMixin.export_onnx`,
    :meth:`~hdr_mm.models.utils.StageEntryMixin.load_onnx`); subclasses
    name the engine (a key of
    :data:`hdr_mm.deploy.graph_backends.GRAPH_BACKENDS`).

    Args:
        precision: None or a precision the engine runs
            (:func:`~hdr_mm.deploy.graph_backends.check_graph_precision`).
        onnx_dir: Where the graphs are written, kept after loading; in
            it, files of the same names are replaced only if a graph
            backend wrote them and they are unchanged since
            (:class:`~hdr_mm.deploy.onnx_cache.OnnxExportCache`). None: a
            new temporary folder, removed once the engine has loaded the
            graphs (never the working directory). For ``'int8'`` it must
            hold the quantized graphs ``<stage>.int8.onnx``.
        num_threads: The engine's inference threads (None: its default).
    """

    engine = ''

    def __init__(self, precision: Optional[str] = None,
                 onnx_dir: Optional[str] = None,
                 num_threads: Optional[int] = None) -> None:
        self.precision = precision
        self.onnx_dir = onnx_dir
        self.num_threads = num_threads

    @classmethod
    def check_precision(cls, precision: Optional[str]) -> None:
        """Refuse a precision the engine does not run.

        Raises:
            ValueError: e.g. bf16 with onnxruntime (float32 graphs).
        """
        from hdr_mm.deploy.graph_backends import check_graph_precision
        check_graph_precision(cls.engine, precision)

    def networks(self, stages: Dict[str, object], sizes: Dict[str, int],
                 device_type: str) -> Dict[str, Optional[Callable]]:
        """Export each stage's network and open it with the engine.

        Args:
            stages: Stage name -> stage model (None left out).
            sizes: Stage name -> input side.
            device_type: Unused (the engines run on the CPU).

        Returns:
            dict: stage name -> its network in the engine.

        Raises:
            FileExistsError: ``onnx_dir`` holds a ``<stage>.onnx`` that
                no graph backend wrote, or that changed since.
            FileNotFoundError: int8, and a ``<stage>.int8.onnx`` is
                missing.
            UnwritableFolderError: ``onnx_dir`` cannot be written.
            ValueError: a stage cannot run another implementation of its
                network (e.g. an SHPE head without ``decode_maps``),
                refused before anything is exported; int8 without
                ``onnx_dir``.
            ImportError: the engine's package is not installed.
            OnnxFileError, RuntimeError: the engine cannot read or
                compile a graph (for int8 also: a quantized graph made
                from another export of the float32 one).
        """
        if self.precision == INT8 and self.onnx_dir is None:
            from hdr_mm.deploy.int8 import QUANTIZE_COMMAND
            raise ValueError(
                "precision='int8' runs the quantized graphs in onnx_dir: "
                'give onnx_dir=DIR, the folder that '
                + QUANTIZE_COMMAND.format(folder='DIR') + ' wrote')
        for model in stages.values():
            model.check_exportable()
        if self.onnx_dir is not None:
            return self._export_and_load(self.onnx_dir, stages, sizes)
        # the engines hold the graphs in memory once loaded
        with tempfile.TemporaryDirectory(prefix='hdr_onnx_') as folder:
            return self._export_and_load(folder, stages, sizes)

    def _export_and_load(self, folder: str, stages: Dict[str, object],
                         sizes: Dict[str, int]) -> Dict[str, Callable]:
        """Export each stage into ``folder`` (:func:`export_stage_graphs`)
        and open it with the engine.

        Args:
            folder: Where the graphs are written.
            stages: Stage name -> stage model.
            sizes: Stage name -> input side.

        Returns:
            dict: stage name -> its network in the engine.
        """
        paths = export_stage_graphs(folder, stages, sizes, self.engine)
        return {
            name: model.load_onnx(paths[name], self.num_threads,
                                  engine=self.engine,
                                  precision=self.precision)
            for name, model in stages.items()
        }


def export_stage_graphs(folder: str, stages: Dict[str, object],
                        sizes: Dict[str, int],
                        writer: str) -> Dict[str, str]:
    """Export each stage's network to ``folder/<stage>.onnx``, through the
    folder's :class:`~hdr_mm.deploy.onnx_cache.OnnxExportCache` (a file
    of that name is replaced only if a graph backend or tool wrote it and
    it is unchanged since). The tracer's warnings about shapes it records
    as constants are silenced: the graphs take a dynamic batch only,
    which tests/test_deploy checks against PyTorch.

    Args:
        folder: Where the graphs are written (created if missing).
        stages: Stage name -> stage model (float32, as built).
        sizes: Stage name -> input side.
        writer: Who writes, as the cache's messages name it (e.g.
            ``'onnxruntime'``).

    Returns:
        dict: stage name -> its ``.onnx`` file.

    Raises:
        FileExistsError: ``folder`` holds a ``<stage>.onnx`` that no
            graph backend wrote, or that changed since.
        UnwritableFolderError: ``folder`` cannot be written.
    """
    from hdr_mm.deploy import OnnxExportCache
    cache = OnnxExportCache(folder, writer=writer)
    paths = {}
    for name, model in stages.items():
        path = cache.claim(f'{name}.onnx')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            model.export_onnx(path, sizes[name])
        cache.record(path)
        paths[name] = path
    return paths


@STAGE_BACKENDS.register_module(name='onnxruntime')
class OnnxRuntimeBackend(GraphBackend):
    """The exported graphs run by onnxruntime (float32, or the quantized
    graphs for int8)."""

    engine = 'onnxruntime'


@STAGE_BACKENDS.register_module(name='openvino')
class OpenVINOBackend(GraphBackend):
    """The exported graphs compiled by OpenVINO for the CPU (f32, or
    bf16 where the CPU has it natively, or the quantized graphs for
    int8)."""

    engine = 'openvino'


def check_runtime(precision: Optional[str], backend: str) -> None:
    """Refuse an unknown or impossible combination, naming it.

    Args:
        precision: None, ``'auto'`` or one of :data:`RUNTIME_PRECISIONS`.
        backend: ``'auto'`` or a name in :data:`STAGE_BACKENDS`.

    Raises:
        ValueError: naming what is wrong.
    """
    if precision is not None and \
            precision not in RUNTIME_PRECISIONS + (AUTO, ):
        raise ValueError(f'precision must be None, {AUTO!r} or one of '
                         f'{RUNTIME_PRECISIONS}, got {precision!r}')
    if backend == AUTO:
        return
    runner = STAGE_BACKENDS.get(backend)
    if runner is None:
        raise ValueError(f'backend must be {AUTO!r} or one of '
                         f'{tuple(STAGE_BACKENDS.module_dict)}, got '
                         f'{backend!r}')
    if precision != AUTO:
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
        precision: See :class:`StageRuntime`, or ``'auto'``.
        backend: A name in :data:`STAGE_BACKENDS`, or ``'auto'``: the
            path for this machine (:func:`hdr_mm.deploy.auto.
            decide_runtime`), logged with its reason; a path that fails
            to load or compile falls back to the next with a warning
            naming it.
        onnx_dir: Where the ONNX graphs are written (graph backends); see
            :class:`GraphBackend`.
        num_threads: The graph engine's threads (None: its default).

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
    if AUTO in (precision, backend):
        from hdr_mm.deploy.auto import build_auto_runtime, machine_facts
        from hdr_mm.deploy.int8 import int8_graphs_present
        return build_auto_runtime(
            lambda p, b: build_runtime(stages, sizes, p, b, onnx_dir,
                                       num_threads), precision, backend,
            machine_facts(device_type,
                          int8_graphs_present(onnx_dir, present)))
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
