"""The backends that run the exported stage graphs, by name.

The pipeline's ``backend='onnxruntime'`` and ``backend='openvino'`` both
export the stage networks to ONNX (:func:`~hdr_mm.deploy.export_stage`,
into an :class:`~hdr_mm.deploy.OnnxExportCache`) and run them with the
runners of :mod:`.stage_runner`; they differ only in the engine and the
precisions it takes. :data:`GRAPH_BACKENDS` maps each name to a
:class:`GraphBackend`; :func:`build_graph_runners` does the rest for
whichever is named, and :func:`installed_graph_backends` says which
engines import here (used by ``backend='auto'``, :mod:`.auto`).
"""
import importlib
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Optional, Tuple

import torch.nn as nn

from .onnx_cache import OnnxExportCache
from .onnx_export import export_stage
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


def build_graph_runners(stages: Dict[str, nn.Module],
                        sizes: Dict[str, int],
                        backend: str,
                        precision: Optional[str] = None,
                        onnx_dir: Optional[str] = None,
                        num_threads: Optional[int] = None
                        ) -> Dict[str, StageNetwork]:
    """Export the stage networks and open them with a graph backend.

    Args:
        stages: Stage name (``'hasm'``, ``'tdr'``, ``'shpe'``) -> float32
            model, for the stages present.
        sizes: Stage name -> side S of its square input.
        backend: A key of :data:`GRAPH_BACKENDS`.
        precision: None, ``'fp32'`` or (OpenVINO) ``'bf16'``.
        onnx_dir: Where the graphs are written; None: a new temporary
            folder. A file there is replaced only if a graph backend wrote
            it and it is unchanged since (:class:`OnnxExportCache`).
        num_threads: The engine's inference threads (None: its default).

    Returns:
        dict: stage name -> runner (``hasm``: a segmentor runner with
        ``encode_decode``; ``tdr``: the generator's; ``shpe``: the maps').

    Raises:
        ValueError: a precision the backend does not run, or an SHPE whose
            head cannot read maps computed elsewhere (no ``decode_maps``).
        ImportError: the backend's package is not installed.
        FileExistsError: ``onnx_dir`` holds a ``<stage>.onnx`` that no
            graph backend wrote, or that changed since.
        OnnxFileError: the engine cannot read a graph.
        RuntimeError: the engine cannot compile a graph.
    """
    check_graph_precision(backend, precision)
    head = getattr(stages.get('shpe'), 'head', None)
    if not hasattr(head, 'decode_maps'):
        raise ValueError(
            f'backend={backend}: the SHPE head {type(head).__name__} '
            'cannot read maps computed elsewhere (no decode_maps); use the '
            'pytorch backend for this SHPE')
    load = GRAPH_BACKENDS[backend].load
    cache = OnnxExportCache(onnx_dir or tempfile.mkdtemp(prefix='hdr_onnx_'),
                            writer=backend)
    runners: Dict[str, StageNetwork] = {}
    for name, model in stages.items():
        path = cache.claim(f'{name}.onnx')
        export_stage(name, model, path, sizes[name])
        cache.record(path)
        runners[name] = load(path, num_threads, precision)
    return runners
