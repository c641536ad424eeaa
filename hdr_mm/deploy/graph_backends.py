"""The backends that run the exported stage graphs, by name.

The pipeline's ``backend='onnxruntime'`` and ``backend='openvino'`` both
export the stage networks to ONNX (:func:`~hdr_mm.deploy.export_stage`,
into an :class:`~hdr_mm.deploy.OnnxExportCache`) and run them with the
runners of :mod:`.stage_runner`; they differ only in the engine and the
precisions it takes. :data:`GRAPH_BACKENDS` maps each name to a
:class:`GraphBackend` (the pipeline's runtime,
:mod:`hdr_mm.models.hdr.runtime`, opens each stage's graph with it
through the stage's ``load_onnx``), and :func:`installed_graph_backends`
says which
engines import here (used by ``backend='auto'``, :mod:`.auto`).

Precision ``'int8'`` (both engines) runs the quantized graphs that
:func:`~hdr_mm.deploy.int8.quantize_stage` wrote next to the float32
ones: the loader is given ``DIR/<stage>.onnx`` and opens
``DIR/<stage>.int8.onnx`` (:func:`~hdr_mm.deploy.int8.open_int8_graph`),
refusing a missing one (``FileNotFoundError`` naming it and
``tools/deployment/quantize_int8.py``), one that is not marked int8 and
one quantized from another ``DIR/<stage>.onnx`` than the one there
(:class:`~hdr_mm.deploy.stage_runner.OnnxFileError`). It never runs the
float32 graph instead. ``precision='auto'`` chooses int8 only where
:mod:`.auto` says it pays and the quantized graphs are there.
"""
import importlib
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Optional, Tuple

from .int8 import INT8, check_int8_runner, open_int8_graph
from .openvino_backend import load_ov_stage
from .ort_backend import load_ort_stage
from .stage_runner import StageNetwork

#: (onnx_file, num_threads, precision) -> the stage's runner
StageLoader = Callable[[str, Optional[int], Optional[str]], StageNetwork]


@dataclass(frozen=True)
class GraphBackend:
    """How one engine runs the exported graphs.

    Attributes:
        package: The Python package it needs (imported only when used).
        precisions: The precisions it runs (None, as built, always
            means float32; ``'int8'``: the quantized graphs).
        load: Opens one exported file as its stage's runner.
    """

    package: str
    precisions: Tuple[str, ...]
    load: StageLoader


def _load_ort(onnx_file: str, num_threads: Optional[int],
              precision: Optional[str]) -> StageNetwork:
    """onnxruntime runs the float32 graph as it is, or for int8 its
    quantized graph (:func:`load_int8`)."""
    if precision == INT8:
        return load_int8(load_ort_stage, onnx_file, num_threads)
    return load_ort_stage(onnx_file, num_threads=num_threads)


def _load_ov(onnx_file: str, num_threads: Optional[int],
             precision: Optional[str]) -> StageNetwork:
    """OpenVINO compiles the float32 graph in f32 or bf16, or for int8
    its quantized graph (:func:`load_int8`; the ops outside the
    quantized ones in f32, see :mod:`.openvino_backend`)."""
    if precision == INT8:
        return load_int8(load_ov_stage, onnx_file, num_threads, INT8)
    return load_ov_stage(onnx_file, num_threads, precision)


def load_int8(load: Callable[..., StageNetwork], onnx_file: str,
              *args) -> StageNetwork:
    """Open the quantized graph of a float32 stage graph.

    Args:
        load: The engine's loader (``load_ort_stage``, ``load_ov_stage``).
        onnx_file: ``DIR/<stage>.onnx``, the float32 graph.
        *args: The loader's further arguments (threads, precision).

    Returns:
        StageNetwork: the runner of ``DIR/<stage>.int8.onnx``.

    Raises:
        FileNotFoundError: ``DIR/<stage>.int8.onnx`` is missing (the
            message names it and the command that writes it).
        OnnxFileError: the engine cannot read it, it is not marked int8,
            or it was quantized from another ``DIR/<stage>.onnx``.
    """
    runner = load(open_int8_graph(onnx_file), *args)
    return check_int8_runner(runner, onnx_file)


#: backend name -> how it runs the graphs
GRAPH_BACKENDS: Dict[str, GraphBackend] = {
    'onnxruntime': GraphBackend('onnxruntime', ('fp32', INT8), _load_ort),
    'openvino': GraphBackend('openvino', ('fp32', 'bf16', INT8), _load_ov),
}


def check_graph_precision(backend: str, precision: Optional[str]) -> None:
    """Refuse a precision the backend cannot run, naming both.

    Args:
        backend: A key of :data:`GRAPH_BACKENDS`.
        precision: None or an hdr_mm precision.

    Raises:
        ValueError: e.g. bf16 with onnxruntime, which runs the float32
            graphs in fp32 and the quantized ones (int8) only.
    """
    allowed = GRAPH_BACKENDS[backend].precisions
    if precision is not None and precision not in allowed:
        raise ValueError(
            f'backend={backend!r} runs the float32 graphs in '
            f'{" or ".join(p for p in allowed if p != INT8)} only (and '
            f'the quantized ones in int8): use precision='
            f'{" or ".join(repr(p) for p in allowed)} (or None) with it, '
            f'not {precision!r}')


def installed_graph_backends() -> FrozenSet[str]:
    """The graph backends whose package imports here.

    Returns:
        frozenset of keys of :data:`GRAPH_BACKENDS`.
    """
    found = set()
    for name, backend in GRAPH_BACKENDS.items():
        try:
            importlib.import_module(backend.package)
        except ImportError:
            continue
        found.add(name)
    return frozenset(found)
