"""int8 post-training static quantization of the exported stage graphs.

A float32 stage graph written by :func:`~hdr_mm.deploy.export_stage`
(``<stage>.onnx``) is quantized by onnxruntime's quantization tools
(:func:`onnxruntime.quantization.quantize_static`) into a QDQ graph,
``<stage>.int8.onnx`` in the same folder (:func:`int8_graph_path`):

- the multiply-adds quantized (:data:`QUANTIZED_OP_TYPES`: ``Conv``,
  ``Gemm``, ``MatMul``): weights int8, symmetric, one scale per output
  channel; activations 8-bit, asymmetric, their ranges calibrated (min/max
  by default) on the stage network's real inputs, fed as numpy batches
  (:class:`NumpyCalibrationReader`); the ops between them run float32 on
  the dequantized tensors;
- QDQ format: every quantized tensor is a ``QuantizeLinear`` /
  ``DequantizeLinear`` pair around the float op, which onnxruntime and
  OpenVINO fuse into int8 kernels (VNNI where the CPU has it);
- activations unsigned (``uint8``, the U8S8 scheme of x86 int8 kernels)
  by default: with signed int8 activations OpenVINO 2026.4 answered about
  17 % away (relative L2) from the exact QDQ arithmetic on the tiny HASM
  and SHPE, against 4-5 % with uint8, as far as onnxruntime's
  quantization noise itself (``activation_type='int8'`` is there to
  measure it again);
- fp32 islands (:class:`Fp32Islands`, defaults
  :data:`DEFAULT_FP32_ISLANDS`): the nodes whose quantization hurts
  most stay float32, as in the bf16 path
  (:mod:`hdr_mm.models.utils.precision`):

  ========  ============================================================
  stage     kept float32
  ========  ============================================================
  every     normalisation layers (``BatchNormalization``,
            ``LayerNormalization``, ``InstanceNormalization``)
  ``hasm``  the four 2-class classifiers ``conv_segs`` (their arg-max is
            the mask) and the decode head's ``Resize`` of the features
  ``tdr``   the mask branch (every node computed from the ``mask`` input
            alone: coverage ``ReduceSum`` and all-ones ``Conv``, holes
            ``Equal``/``Where``/``Not``, ``Reciprocal``, the masks'
            ``Resize`` and ``Concat`` between levels), every op of a
            partial convolution but its image convolution (the
            renormalisation multiply, the bias), and the last decoder
            level ``decoders.0``, which paints the image. A coverage
            reaches ``in_channels x k x k``: int8 cannot hold it.
  ``shpe``  the read-out convolutions ``heatmap_branch.predict``,
            ``delta_branch.predict``, ``location_branch.predict`` (their
            arg-max and read-out are the joints), the heat-map
            normalisation (``Softmax``, ``ReduceMax``) and the trunk's
            stem and first stage (``backbone.conv1``, ``backbone.layer1``):
            with them int8, OpenVINO's heat maps had their arg-max where
            the float32 graph has it for 38% of the joints (onnxruntime's
            88%); float32, for 91% in both
  ========  ============================================================

  Only nodes of a quantized op type change anything with the default
  :data:`QUANTIZED_OP_TYPES`; the other op types listed stay float32
  whatever ``op_types`` a caller widens it to.

The quantized graph keeps the source's inputs, outputs and metadata
(``hdr_mm_stage``, ``input_size``, ...: the runners of
:mod:`.stage_runner` open it as they open the float32 graph) and adds
``hdr_mm_precision = 'int8'`` and ``hdr_mm_source_sha256``, the SHA-256
of the float32 file it was quantized from: :func:`check_int8_runner`
refuses an int8 graph whose float32 source next to it has changed since
(the weights changed: quantize again). It is written atomically (a
temporary file in the target folder, then a rename); the source graph is
never written.

``tools/deployment/quantize_int8.py`` records the calibration inputs by
running the float32 pipeline on a config's test frames and writes the
three graphs; ``precision='int8'`` of the graph backends
(:mod:`.graph_backends`) runs them, and ``precision='auto'`` chooses
them on a CPU where int8 pays when they are in ``onnx_dir``
(:func:`int8_graphs_present`, :mod:`.auto`). ``onnx`` and
``onnxruntime`` are imported only when used.
"""
import logging
import os.path as osp
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import (Dict, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Set)

import numpy as np

from hdr_mm.utils.atomic_file import atomic_write

from .onnx_cache import file_sha256
from .onnx_export import STAGE_NETWORKS
from .stage_runner import (OnnxFileError, StageNetwork, check_onnx_file,
                           unloadable_file)

#: the quantized graph of ``<stage>.onnx`` is ``<stage>.int8.onnx``
INT8_SUFFIX = '.int8.onnx'
#: metadata key and value that mark a quantized graph
PRECISION_KEY, INT8 = 'hdr_mm_precision', 'int8'
#: metadata key: SHA-256 of the float32 graph it was quantized from
SOURCE_KEY = 'hdr_mm_source_sha256'
#: metadata key: the nodes of a quantized op type kept float32
ISLANDS_KEY = 'hdr_mm_fp32_islands'
#: what makes the quantized graphs (``{folder}``: where they go)
QUANTIZE_COMMAND = ('python tools/deployment/quantize_int8.py CONFIG '
                    'CHECKPOINT --onnx-dir {folder}')
#: calibration methods by name (onnxruntime's ``CalibrationMethod``)
CALIBRATE_METHODS = ('minmax', 'entropy', 'percentile')
#: the op types quantized (those that carry the multiply-adds; the ops
#: between them run float32 on dequantized tensors)
QUANTIZED_OP_TYPES = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')
#: activation types by name (QDQ activations, asymmetric)
ACTIVATION_TYPES = ('uint8', 'int8')
#: normalisation ops: float32 in every stage (as in bf16)
NORM_OPS = ('BatchNormalization', 'LayerNormalization',
            'InstanceNormalization')


@dataclass(frozen=True)
class Fp32Islands:
    """Which nodes of a stage graph stay float32 when it is quantized.

    A node is kept float32 if any of the three selects it.

    Attributes:
        op_types: ONNX op types (e.g. ``'Resize'``).
        name_patterns: Regular expressions searched
            (:func:`re.search`) in the node names, which the exporter
            derives from the module paths (e.g. ``r'^/conv_segs\\.\\d+/'``
            for HASM's classifiers, ``'/heatmap_branch/predict/'``).
        input_branches: Graph input names whose own branch stays
            float32: every node whose non-constant inputs are computed
            from these graph inputs alone (TDR's mask branch:
            ``('mask', )``).
    """

    op_types: Sequence[str] = ()
    name_patterns: Sequence[str] = ()
    input_branches: Sequence[str] = ()

    def select(self, graph) -> List[str]:
        """The names of the nodes of ``graph`` kept float32.

        Args:
            graph: An ``onnx.GraphProto`` (nodes in topological order,
                as ONNX requires), every node named.

        Returns:
            list[str]: node names, in graph order.

        Raises:
            ValueError: an ``input_branches`` entry is not a graph input.
        """
        inputs = [i.name for i in graph.input]
        unknown = set(self.input_branches) - set(inputs)
        if unknown:
            raise ValueError(
                f'Fp32Islands.input_branches {sorted(unknown)} are not '
                f'inputs of the graph (its inputs: {inputs})')
        patterns = [re.compile(p) for p in self.name_patterns]
        # tensor -> the graph inputs it is computed from (constants: none)
        sources: Dict[str, Set[str]] = {name: {name} for name in inputs}
        branch = set(self.input_branches)
        kept = []
        for node in graph.node:
            deps = set().union(*(sources.get(t, set()) for t in node.input
                                 if t))
            for out in node.output:
                sources[out] = deps
            if node.op_type in self.op_types or \
                    any(p.search(node.name) for p in patterns) or \
                    (deps and deps <= branch):
                kept.append(node.name)
        return kept

    def merged(self, other: 'Fp32Islands') -> 'Fp32Islands':
        """Both selections (a node either selects stays float32)."""
        return Fp32Islands(
            tuple(self.op_types) + tuple(other.op_types),
            tuple(self.name_patterns) + tuple(other.name_patterns),
            tuple(self.input_branches) + tuple(other.input_branches))


#: stage -> the nodes kept float32 by default (module docstring's table)
DEFAULT_FP32_ISLANDS: Dict[str, Fp32Islands] = dict(
    hasm=Fp32Islands(
        op_types=NORM_OPS + ('Resize', ),
        name_patterns=(r'^/conv_segs\.\d+/', )),
    tdr=Fp32Islands(
        op_types=NORM_OPS,
        name_patterns=(r'/pconv/(?!Conv$)', r'^/generator/decoders\.0/'),
        input_branches=('mask', )),
    shpe=Fp32Islands(
        op_types=NORM_OPS + ('Softmax', 'ReduceMax'),
        name_patterns=(r'/(heatmap|delta|location)_branch/predict/',
                       r'^/backbone/(conv1|layer1)/')),
)


def int8_graph_path(onnx_file: str) -> str:
    """Where the quantized graph of a float32 stage graph goes.

    Args:
        onnx_file: ``DIR/<stage>.onnx``.

    Returns:
        str: ``DIR/<stage>.int8.onnx``.

    Raises:
        ValueError: ``onnx_file`` does not end with ``.onnx`` or is a
            quantized graph already.
    """
    if onnx_file.endswith(INT8_SUFFIX) or not onnx_file.endswith('.onnx'):
        raise ValueError(f'{onnx_file}: expected a float32 stage graph '
                         f'<stage>.onnx (not {INT8_SUFFIX})')
    return onnx_file[:-len('.onnx')] + INT8_SUFFIX


def int8_graphs_present(onnx_dir: Optional[str],
                        stages: Iterable[str]) -> bool:
    """Whether ``onnx_dir`` holds a quantized graph for every stage.

    Only that the files are there (``precision='auto'`` considers int8
    then; whether each was quantized from the float32 graph exported
    next to it is checked when it is opened, :func:`check_int8_runner`).

    Args:
        onnx_dir: The graph backends' folder, or None (none given).
        stages: Stage names (``'hasm'``, ``'tdr'``, ``'shpe'``).

    Returns:
        bool: every ``onnx_dir/<stage>.int8.onnx`` is a file; False for
        no folder or no stage.
    """
    stages = list(stages)
    return onnx_dir is not None and bool(stages) and all(
        osp.isfile(int8_graph_path(osp.join(onnx_dir, f'{s}.onnx')))
        for s in stages)


class NumpyCalibrationReader:
    """onnxruntime's ``CalibrationDataReader`` over numpy input batches
    (its interface, ``get_next``, without importing onnxruntime: the
    reader class accepts any object that has it).

    Args:
        batches: One dict per batch, input name -> float32 array (N, ...)
            with the graph's inputs (N may differ between batches: the
            graphs take a dynamic batch).

    Example::

        reader = NumpyCalibrationReader([dict(inputs=x) for x in crops])
    """

    def __init__(self, batches: Sequence[Mapping[str, np.ndarray]]) -> None:
        self.batches = [{k: np.ascontiguousarray(v, dtype=np.float32)
                         for k, v in b.items()} for b in batches]
        self._next = 0

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        """The next batch, or None after the last."""
        if self._next >= len(self.batches):
            return None
        self._next += 1
        return self.batches[self._next - 1]

    def rewind(self) -> None:
        """Start again from the first batch."""
        self._next = 0

    def __iter__(self) -> Iterator[Dict[str, np.ndarray]]:
        self.rewind()
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _check_batches(onnx_file: str, graph, stage: str,
                   batches: Sequence[Mapping[str, np.ndarray]]) -> None:
    """Refuse calibration batches that do not fit the graph's inputs.

    Raises:
        ValueError: no batch, or a batch whose names or ranks are not the
            graph's (naming the file and what was expected).
    """
    names = list(STAGE_NETWORKS[stage][0])
    if not batches:
        raise ValueError(f'quantize {onnx_file}: no calibration batches '
                         f'(expected dicts of {names})')
    ranks = {i.name: len(i.type.tensor_type.shape.dim) for i in graph.input}
    for k, batch in enumerate(batches):
        if sorted(batch) != sorted(names):
            raise ValueError(
                f'quantize {onnx_file}: calibration batch {k} has inputs '
                f'{sorted(batch)}, expected {names}')
        for name, value in batch.items():
            if np.ndim(value) != ranks[name]:
                raise ValueError(
                    f'quantize {onnx_file}: calibration batch {k}: input '
                    f'{name!r} has shape {tuple(np.shape(value))}, expected '
                    f'{ranks[name]} dimensions')


def _fold_constants(graph) -> None:
    """Make the graph's constant tensors initializers, in place.

    The exporter writes some weights as ``Constant`` nodes and shares
    equal initializers through ``Identity`` nodes (e.g. the zero biases
    of a freshly initialised network); onnxruntime's quantizer only
    quantizes weights and biases that are initializers. Both become
    initializers of the same name; nothing else changes.

    Args:
        graph: An ``onnx.GraphProto``.
    """
    from onnx import numpy_helper
    inits = {t.name: t for t in graph.initializer}
    keep = []
    for node in graph.node:
        tensor = None
        if node.op_type == 'Constant' and len(node.attribute) == 1 and \
                node.attribute[0].name == 'value':
            tensor = node.attribute[0].t
        elif node.op_type == 'Identity' and node.input[0] in inits:
            tensor = inits[node.input[0]]
        if tensor is None:
            keep.append(node)
            continue
        new = numpy_helper.from_array(numpy_helper.to_array(tensor),
                                      node.output[0])
        graph.initializer.append(new)
        inits[new.name] = new
    del graph.node[:]
    graph.node.extend(keep)


def _stage_metadata(onnx_file: str, proto) -> Dict[str, str]:
    """The metadata of a float32 stage graph, checked.

    Raises:
        OnnxFileError: it names no stage, or it is quantized already.
    """
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get('hdr_mm_stage') not in STAGE_NETWORKS:
        raise OnnxFileError(
            f'{onnx_file} is not the graph of an hdr_mm stage: its metadata '
            f'has no hdr_mm_stage in {sorted(STAGE_NETWORKS)} (got {meta}); '
            'export it with tools/deployment/pytorch2onnx.py or '
            'hdr_mm.deploy.export_stage before quantizing it')
    if meta.get(PRECISION_KEY, 'fp32') != 'fp32':
        raise OnnxFileError(
            f'{onnx_file} is quantized already ({PRECISION_KEY} = '
            f'{meta[PRECISION_KEY]!r}): quantize the float32 graph')
    return meta


@contextmanager
def _quiet_preprocessing_advice() -> Iterator[None]:
    """Drop onnxruntime's advice to pre-process the model (logged on the
    root logger at every call): the graphs are prepared here instead
    (:func:`_fold_constants`; its symbolic shape inference fails on
    HASM's attention reshapes)."""

    def advice(record: logging.LogRecord) -> bool:
        return 'pre-processing' not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def quantize_stage(onnx_file: str,
                   calibration: Sequence[Mapping[str, np.ndarray]],
                   out_file: Optional[str] = None,
                   fp32_islands: Optional[Fp32Islands] = None,
                   calibrate_method: str = 'minmax',
                   activation_type: str = 'uint8',
                   reduce_range: bool = False,
                   op_types: Sequence[str] = QUANTIZED_OP_TYPES) -> str:
    """Quantize a float32 stage graph to an int8 QDQ graph.

    Args:
        onnx_file: A float32 graph written by
            :func:`~hdr_mm.deploy.export_stage` (its metadata names the
            stage). Only read.
        calibration: The stage network's inputs, one dict per batch:
            input name -> float32 array, e.g. ``dict(inputs=(N, C, S,
            S))`` for HASM and SHPE, ``dict(x=(N, 8, S, S), mask=(N, 8,
            S, S))`` for TDR, as they reach the graph in the pipeline.
        out_file: Where to write; default :func:`int8_graph_path`
            (``<stage>.int8.onnx`` next to ``onnx_file``). Replaced
            atomically if it exists; never ``onnx_file``.
        fp32_islands: The nodes kept float32; default the stage's
            :data:`DEFAULT_FP32_ISLANDS`. ``Fp32Islands()`` quantizes
            every node of ``op_types``;
            ``DEFAULT_FP32_ISLANDS[stage].merged(Fp32Islands(...))``
            keeps more.
        calibrate_method: ``'minmax'`` (default), ``'entropy'`` or
            ``'percentile'`` (onnxruntime's activation range estimates).
        activation_type: ``'uint8'`` (default, asymmetric: the U8S8
            scheme of x86 int8 kernels) or ``'int8'`` (asymmetric
            signed; OpenVINO 2026.4 computed these graphs about 4x less
            accurately, see the module docstring).
        reduce_range: Quantize the weights to 7 bits (onnxruntime's
            remedy for the saturation of u8s8 kernels on x86 CPUs
            without VNNI).
        op_types: The op types quantized (:data:`QUANTIZED_OP_TYPES`).

    Returns:
        str: ``out_file``.

    Raises:
        FileNotFoundError: ``onnx_file`` does not exist.
        OnnxFileError: it cannot be read, is not an hdr_mm stage graph,
            or is quantized already.
        ValueError: ``out_file`` is ``onnx_file``, an unknown calibration
            method or activation type, or calibration batches that do not
            fit the graph.
        UnwritableFolderError: the folder of ``out_file`` cannot be
            written.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    out_file = out_file or int8_graph_path(onnx_file)
    if osp.abspath(out_file) == osp.abspath(onnx_file):
        raise ValueError(f'quantize {onnx_file}: out_file is the source '
                         'graph; the float32 graph is never overwritten')
    if calibrate_method not in CALIBRATE_METHODS:
        raise ValueError(f'calibrate_method must be one of '
                         f'{CALIBRATE_METHODS}, got {calibrate_method!r}')
    if activation_type not in ACTIVATION_TYPES:
        raise ValueError(f'activation_type must be one of '
                         f'{ACTIVATION_TYPES}, got {activation_type!r}')
    check_onnx_file(onnx_file)
    try:
        proto = onnx.load(onnx_file)
    except Exception as e:  # protobuf's DecodeError, ...
        raise unloadable_file(onnx_file, 'onnx',
                              (str(e).strip() or type(e).__name__)[:300],
                              type(e).__name__) from None
    meta = _stage_metadata(onnx_file, proto)
    stage = meta['hdr_mm_stage']
    _check_batches(onnx_file, proto.graph, stage, calibration)
    _fold_constants(proto.graph)
    for k, node in enumerate(proto.graph.node):  # excluded by name
        if not node.name:
            node.name = f'hdr_mm_node_{k}'
    islands = (DEFAULT_FP32_ISLANDS[stage] if fp32_islands is None else
               fp32_islands)
    kept = islands.select(proto.graph)
    # the nodes that would have been quantized, for the metadata
    kept_set = set(kept)
    kept_ops = [n.name for n in proto.graph.node
                if n.op_type in op_types and n.name in kept_set]
    source_sha = file_sha256(onnx_file)
    reader = NumpyCalibrationReader(calibration)
    method = getattr(CalibrationMethod, dict(
        minmax='MinMax', entropy='Entropy',
        percentile='Percentile')[calibrate_method])

    def write(tmp: str) -> None:
        with _quiet_preprocessing_advice():
            quantize_static(
                proto, tmp, reader, quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(op_types), per_channel=True,
                reduce_range=reduce_range,
                activation_type=(QuantType.QUInt8 if activation_type ==
                                 'uint8' else QuantType.QInt8),
                weight_type=QuantType.QInt8, nodes_to_exclude=kept,
                calibrate_method=method,
                # every batch's outputs are kept until the ranges are
                # computed: onnxruntime 1.30's CalibMaxIntermediateOutputs
                # drops the batches it clears instead of merging them
                extra_options=dict(
                    ActivationSymmetric=False, WeightSymmetric=True))
        out = onnx.load(tmp)
        del out.metadata_props[:]
        marks = {
            PRECISION_KEY: INT8,
            SOURCE_KEY: source_sha,
            'hdr_mm_int8_scheme': f'QDQ, weights int8 per channel'
            f'{" (7-bit range)" if reduce_range else ""}, '
            f'activations {activation_type}, {calibrate_method} over '
            f'{len(reader)} batches',
            ISLANDS_KEY: ','.join(kept_ops),
        }
        for key, value in {**meta, **marks}.items():
            entry = out.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(out)
        onnx.save(out, tmp)

    atomic_write(out_file, write, overwrite=True)
    return out_file


def missing_int8_graph(int8_file: str, onnx_file: str) -> FileNotFoundError:
    """The error for a quantized graph that is not there.

    Args:
        int8_file: The ``<stage>.int8.onnx`` looked for.
        onnx_file: Its float32 graph.

    Returns:
        FileNotFoundError: to be raised; names the file and the command
        that writes it.
    """
    folder = osp.dirname(onnx_file) or '.'
    return FileNotFoundError(
        f"precision='int8': the quantized graph {int8_file} is missing "
        f'(the int8 graph of {osp.basename(onnx_file)}); write it with '
        f'{QUANTIZE_COMMAND.format(folder=folder)}')


def open_int8_graph(onnx_file: str) -> str:
    """The quantized graph of a float32 stage graph, which must exist.

    Args:
        onnx_file: ``DIR/<stage>.onnx``.

    Returns:
        str: ``DIR/<stage>.int8.onnx``.

    Raises:
        FileNotFoundError: it is missing (:func:`missing_int8_graph`: the
            message names it and the command that writes it).
    """
    int8_file = int8_graph_path(onnx_file)
    if not osp.isfile(int8_file):
        raise missing_int8_graph(int8_file, onnx_file)
    return int8_file


def check_int8_runner(runner: StageNetwork,
                      onnx_file: Optional[str] = None) -> StageNetwork:
    """Refuse a runner whose graph is not a current quantized graph.

    Args:
        runner: The quantized graph, opened by a backend.
        onnx_file: The float32 graph it should have been quantized from;
            when it exists, its SHA-256 must be the one recorded.

    Returns:
        StageNetwork: ``runner``.

    Raises:
        OnnxFileError: its metadata does not mark it int8, or the float32
            graph changed since it was quantized (the weights changed:
            quantize again).
    """
    meta = runner.metadata
    if meta.get(PRECISION_KEY) != INT8:
        raise OnnxFileError(
            f'{runner.onnx_file} is not a quantized hdr_mm graph: its '
            f'metadata has no {PRECISION_KEY} = {INT8!r} (got '
            f'{meta.get(PRECISION_KEY)!r}); write it with '
            + QUANTIZE_COMMAND.format(
                folder=osp.dirname(runner.onnx_file) or '.'))
    if onnx_file is not None and osp.isfile(onnx_file) and \
            meta.get(SOURCE_KEY) != file_sha256(onnx_file):
        raise OnnxFileError(
            f'{runner.onnx_file} was quantized from another {onnx_file} '
            f'(its recorded {SOURCE_KEY} differs from that file\'s): the '
            'weights or the export changed since; quantize again with '
            + QUANTIZE_COMMAND.format(folder=osp.dirname(onnx_file) or '.'))
    return runner
