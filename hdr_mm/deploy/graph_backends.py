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
"""
import importlib
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Optional, Tuple

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
            means float32).
        load: Opens one exported file as its stage's runner.
    """

    package: str
    precisions: Tuple[str, ...]
    load: StageLoader


def _load_ort(onnx_file: str, num_threads: Optional[int],
              precision: Optional[str]) -> StageNetwork:
    """onnxruntime runs the float32 graph as it is."""
    return load_ort_stage(onnx_file, num_threads=num_threads)


#: backend name -> how it runs the graphs
GRAPH_BACKENDS: Dict[str, GraphBackend] = {
    'onnxruntime': GraphBackend('onnxruntime', ('fp32', ), _load_ort),
    'openvino': GraphBackend('openvino', ('fp32', 'bf16'), load_ov_stage),
}


def check_graph_precision(backend: str, precision: Optional[str]) -> None:
    """Refuse a precision the backend cannot run, naming both.

    Args:
        backend: A key of :data:`GRAPH_BACKENDS`.
        precision: None or an hdr_mm precision.

    Raises:
        ValueError: e.g. bf16 with onnxruntime, whose graphs are float32.
    """
    allowed = GRAPH_BACKENDS[backend].precisions
    if precision is not None and precision not in allowed:
        raise ValueError(
            f'backend={backend!r} runs the float32 graphs in '
            f'{" or ".join(allowed)} only: use precision='
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
