"""OpenVINO runners of the stage networks, with the torch call signatures.

The ONNX graphs that :func:`~hdr_mm.deploy.export_stage` writes are read
by OpenVINO's ONNX frontend and compiled for the CPU. The runners are
those of :mod:`.ort_backend` with another engine (their call signatures,
the torch<->numpy conversion and the checks of the file are
:mod:`.stage_runner`'s):

- :class:`OVSegmentor`: ``encode_decode(inputs, batch_img_metas)`` and
  ``__call__(inputs)`` of HASM;
- :class:`OVGenerator`: ``__call__(x, mask) -> (out, out_mask)`` of TDR;
- :class:`OVPoseMaps`: ``__call__(inputs) -> (heatmaps, delta_maps,
  location_maps)`` of the SHPE.

Precision: ``'fp32'`` (or None) compiles with ``INFERENCE_PRECISION_HINT``
``f32``; ``'bf16'`` with ``bf16`` where the CPU has native bf16 (AMX or
AVX512-BF16, as OpenVINO's ``OPTIMIZATION_CAPABILITIES`` reports it) and
``f32`` elsewhere, with a warning (emulated bf16 would be slower). The
hint is always set: OpenVINO's own default on a CPU with native bf16 is
bf16, which would make ``'fp32'`` a lie there. The precision the graph
was compiled with is :attr:`OVNetwork.inference_precision`. ``'int8'``
is for the quantized graphs (:mod:`.int8`, opened through
:mod:`.graph_backends`): OpenVINO runs their quantized convolutions and
matrix products in int8 (its low-precision transformations fuse the
QDQ pairs; VNNI or AMX where the CPU has them) and everything else,
the fp32 islands included, with the hint ``f32`` (not bf16 where it is
native: the islands are there because they are numerically sensitive).

A file OpenVINO cannot read (empty, truncated, corrupt, not ONNX) or
that is not the graph of a stage is refused with an
:class:`~hdr_mm.deploy.stage_runner.OnnxFileError` naming it and what was
expected; a graph OpenVINO reads but cannot compile raises a
``RuntimeError`` naming the file. ``openvino`` is imported only here,
when a runner is built.
"""
import logging
from functools import lru_cache
from typing import Dict, List, Optional

import numpy as np
from mmengine.logging import print_log

from .stage_runner import (GeneratorCalls, PoseMapsCalls, SegmentorCalls,
                           StageNetwork, as_stage_runner, check_onnx_file,
                           unloadable_file)

#: hdr_mm precision -> OpenVINO ``INFERENCE_PRECISION_HINT``
OV_PRECISION_HINTS = {None: 'f32', 'fp32': 'f32', 'bf16': 'bf16',
                      'int8': 'f32'}
#: OpenVINO element type name -> hdr_mm precision
_FROM_OV_TYPE = {'f32': 'fp32', 'bf16': 'bf16'}
#: the device the graphs are compiled for
DEVICE = 'CPU'


@lru_cache(maxsize=1)
def ov_core():
    """The process's ``openvino.Core`` (created on first use).

    Returns:
        openvino.Core
    """
    import openvino as ov
    return ov.Core()


def ov_native_bf16() -> bool:
    """Whether OpenVINO's CPU plugin has native bf16 kernels here (AMX or
    AVX512-BF16: ``'BF16'`` in its ``OPTIMIZATION_CAPABILITIES``)."""
    return 'BF16' in ov_core().get_property(DEVICE,
                                            'OPTIMIZATION_CAPABILITIES')


def ov_precision_hint(precision: Optional[str], native_bf16: bool) -> str:
    """The ``INFERENCE_PRECISION_HINT`` a precision compiles with.

    Args:
        precision: None, ``'fp32'``, ``'bf16'`` or ``'int8'`` (a quantized
            graph: its float parts in f32).
        native_bf16: Whether the CPU has native bf16 (:func:`ov_native_bf16`).

    Returns:
        str: ``'f32'`` or ``'bf16'`` (bf16 only where it is native).

    Raises:
        ValueError: an unknown precision.
    """
    if precision not in OV_PRECISION_HINTS:
        raise ValueError(f'OpenVINO precision must be None or one of '
                         f"('fp32', 'bf16', 'int8'), got {precision!r}")
    hint = OV_PRECISION_HINTS[precision]
    return hint if hint != 'bf16' or native_bf16 else 'f32'


def _ov_reason(e: Exception) -> str:
    """OpenVINO's own reason, without its C++ check and locations.

    Args:
        e: The error OpenVINO raised while reading a file.

    Returns:
        str: its last line, e.g. ``"Model can't be parsed"`` (at most 300
        characters).
    """
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return (lines[-1] if lines else type(e).__name__)[:300]


def read_onnx_model(onnx_file: str):
    """An ONNX file as an OpenVINO model, or an error naming the file.

    Only OpenVINO's ONNX frontend is asked (``Core.read_model`` would try
    every frontend on a broken file, TensorFlow's included).

    Args:
        onnx_file: The ``.onnx`` file.

    Returns:
        openvino.Model

    Raises:
        FileNotFoundError: the file does not exist.
        OnnxFileError: it is empty, or OpenVINO cannot read it
            (truncated, corrupt or not an ONNX model).
    """
    from openvino.frontend import FrontEndManager
    check_onnx_file(onnx_file)
    frontend = FrontEndManager().load_by_framework('onnx')
    try:
        return frontend.convert(frontend.load(onnx_file))
    except Exception as e:  # OpenVINO's GeneralFailure, RuntimeError, ...
        raise unloadable_file(onnx_file, 'OpenVINO', _ov_reason(e),
                              type(e).__name__) from None


def _model_metadata(model) -> Dict[str, str]:
    """The ONNX ``metadata_props`` (OpenVINO keeps them in the model's
    ``framework`` runtime info)."""
    if not model.has_rt_info('framework'):
        return {}
    return {key: value.astype(str) for key, value in
            model.get_rt_info('framework').astype(dict).items()}


class OVNetwork(StageNetwork):
    """An ONNX stage graph compiled by OpenVINO for the CPU, fed and
    answering with torch tensors
    (:class:`~hdr_mm.deploy.stage_runner.StageNetwork`).

    One infer request is reused: a runner is not to be called from two
    threads at once.

    Args:
        onnx_file: The ``.onnx`` file.
        num_threads: ``INFERENCE_NUM_THREADS`` (None: OpenVINO's default,
            one per physical core).
        precision: None or ``'fp32'`` (f32), ``'bf16'`` (bf16 where the
            CPU has it natively, f32 elsewhere with a warning), ``'int8'``
            (a quantized graph: f32 outside its int8 ops).

    Attributes:
        compiled (openvino.CompiledModel): The compiled graph.
        inference_precision (str): ``'fp32'`` or ``'bf16'``, what OpenVINO
            compiled it with (``'fp32'`` for a quantized graph: the
            precision of its float parts).
        metadata (dict): The graph's metadata (``hdr_mm_stage``, ...).
        input_names, output_names (list[str]): As exported.

    Raises:
        FileNotFoundError: ``onnx_file`` does not exist.
        OnnxFileError: OpenVINO cannot read it (:func:`read_onnx_model`).
        RuntimeError: OpenVINO cannot compile it; the message names the
            file.
    """

    backend = 'openvino'

    def __init__(self,
                 onnx_file: str,
                 num_threads: Optional[int] = None,
                 precision: Optional[str] = 'fp32') -> None:
        hint = ov_precision_hint(precision, ov_native_bf16())
        model = read_onnx_model(onnx_file)
        if precision == 'bf16' and hint != 'bf16':
            print_log(
                f'OpenVINO: this CPU has no native bf16 (no AMX or '
                f'AVX512-BF16); {onnx_file} is compiled in f32',
                logger='current', level=logging.WARNING)
        config = dict(INFERENCE_PRECISION_HINT=hint,
                      PERFORMANCE_HINT='LATENCY')
        if num_threads is not None:
            config['INFERENCE_NUM_THREADS'] = int(num_threads)
        try:
            self.compiled = ov_core().compile_model(model, DEVICE, config)
        except Exception as e:
            raise RuntimeError(
                f'OpenVINO cannot compile {onnx_file} for the {DEVICE} '
                f'(INFERENCE_PRECISION_HINT {hint}): {_ov_reason(e)}') from e
        self.onnx_file = onnx_file
        self.inference_precision = _FROM_OV_TYPE.get(
            self.compiled.get_property(
                'INFERENCE_PRECISION_HINT').get_type_name(), 'fp32')
        self.metadata: Dict[str, str] = _model_metadata(model)
        self.input_names: List[str] = [
            p.get_any_name() for p in self.compiled.inputs]
        self.output_names: List[str] = [
            p.get_any_name() for p in self.compiled.outputs]
        self._request = self.compiled.create_infer_request()

    def infer(self, feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """One synchronous inference (outputs copied out of OpenVINO's
        buffers; see :meth:`StageNetwork.infer`)."""
        results = self._request.infer(feed)
        return [results[i] for i in range(len(self.output_names))]


class OVSegmentor(SegmentorCalls, OVNetwork):
    """HASM through OpenVINO (:class:`SegmentorCalls`)."""


class OVGenerator(GeneratorCalls, OVNetwork):
    """TDR's generator through OpenVINO (:class:`GeneratorCalls`)."""


class OVPoseMaps(PoseMapsCalls, OVNetwork):
    """SHPE's network through OpenVINO (:class:`PoseMapsCalls`)."""


_RUNNERS = dict(hasm=OVSegmentor, tdr=OVGenerator, shpe=OVPoseMaps)


def load_ov_stage(onnx_file: str,
                  num_threads: Optional[int] = None,
                  precision: Optional[str] = 'fp32') -> OVNetwork:
    """Compile an exported stage network with OpenVINO, as the runner of
    its stage.

    Args:
        onnx_file: A file written by :func:`~hdr_mm.deploy.export_stage`
            (its metadata names the stage).
        num_threads: OpenVINO's inference threads (None: its default).
        precision: None/``'fp32'``, ``'bf16'`` or ``'int8'`` (see
            :class:`OVNetwork`; for int8 ``onnx_file`` is the quantized
            graph itself, see :mod:`.graph_backends`).

    Returns:
        OVNetwork: an :class:`OVSegmentor`, :class:`OVGenerator` or
        :class:`OVPoseMaps`.

    Raises:
        FileNotFoundError: the file does not exist.
        OnnxFileError: OpenVINO cannot read it, or its metadata names no
            stage, or its inputs and outputs are not the stage's.
        RuntimeError: OpenVINO cannot compile it.
    """
    return as_stage_runner(OVNetwork(onnx_file, num_threads, precision),
                           _RUNNERS)
