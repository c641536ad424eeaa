"""onnxruntime runners of the stage networks, with the torch call
signatures.

Each runner takes and returns torch tensors (float32, on the CPU), so the
pipeline keeps its own pre- and post-processing whatever computes the
network:

- :class:`ORTSegmentor`: ``encode_decode(inputs, batch_img_metas)`` as
  mmseg's ``EncoderDecoder`` (logits resized to the input size), and
  ``__call__(inputs)`` for the raw (N, 2M, S/4, S/4) logits;
- :class:`ORTGenerator`: ``__call__(x, mask) -> (out, out_mask)`` as
  :class:`~hdr_mm.models.tdr.PConvUNet`;
- :class:`ORTPoseMaps`: ``__call__(inputs) -> (heatmaps, delta_maps,
  location_maps)`` as ``head.forward(extract_feat(inputs))`` of the
  SHPE; the joints are then read by the torch head's
  :meth:`~hdr_mm.models.shpe.DetNetHead.decode_maps`, as in PyTorch.

:func:`load_ort_stage` opens a file written by
:func:`~hdr_mm.deploy.export_stage` and returns the right runner.

A file that onnxruntime cannot load (truncated, corrupt, not ONNX) or
that is not the graph of a stage is refused with an
:class:`OnnxFileError` naming it and what was expected; nothing here
writes or replaces a file. The call signatures, the torch<->numpy
conversion and these checks are :mod:`.stage_runner`'s, shared with the
OpenVINO runners (:mod:`.openvino_backend`).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from .stage_runner import (REEXPORT_HINT, GeneratorCalls,  # noqa: F401
                           OnnxFileError, PoseMapsCalls, SegmentorCalls,
                           StageNetwork, as_stage_runner, check_onnx_file,
                           unloadable_file)


def _ort_reason(e: Exception) -> str:
    """onnxruntime's own reason, without its error-code prefix and C++
    location.

    Args:
        e: The error onnxruntime raised while loading a file.

    Returns:
        str: e.g. ``'Protobuf parsing failed.'`` (at most 300 characters).
    """
    text = str(e)
    text = text.split('failed:', 1)[-1].strip().splitlines()[0] \
        if 'failed:' in text else text.strip()
    if 'onnxruntime::' in text and ') ' in text:
        text = text.rsplit(') ', 1)[-1]
    return text[:300]


def open_onnx_session(onnx_file: str, sess_options=None,
                      providers: Sequence[str] = ('CPUExecutionProvider', )):
    """An onnxruntime session of a file, or an error naming the file.

    Args:
        onnx_file: The ``.onnx`` file.
        sess_options: ``onnxruntime.SessionOptions``.
        providers: Execution providers, in order of preference.

    Returns:
        onnxruntime.InferenceSession

    Raises:
        FileNotFoundError: the file does not exist.
        OnnxFileError: onnxruntime cannot load it (empty, truncated,
            corrupt or not an ONNX model).
    """
    import onnxruntime as ort
    check_onnx_file(onnx_file)
    try:
        return ort.InferenceSession(
            onnx_file, sess_options=sess_options, providers=list(providers))
    except Exception as e:  # onnxruntime's InvalidProtobuf, Fail, ...
        raise unloadable_file(onnx_file, 'onnxruntime', _ort_reason(e),
                              type(e).__name__) from None


class ORTNetwork(StageNetwork):
    """An onnxruntime session fed and answering with torch tensors
    (:class:`~hdr_mm.deploy.stage_runner.StageNetwork`).

    Args:
        onnx_file: The ``.onnx`` file.
        num_threads: ``intra_op_num_threads`` (None: onnxruntime's
            default, one per core).
        providers: Execution providers, in order of preference.
        spinning: Whether onnxruntime's worker threads spin while they
            wait for work (its default) instead of sleeping. Off by
            default: in the pipeline a graph call is followed by torch
            code on the same cores (the glue, the next stage), and
            threads still spinning after ``run`` returned take the cores
            from it. On an AMD Zen 4 (2 threads, int8 graphs of the
            paper-size pipeline, ``docs/benchmark.md``) spinning made
            the pipeline 1.35x slower end to end (1012 against 751 ms)
            while the three graphs alone took about as long.

    Attributes:
        session (onnxruntime.InferenceSession): The session.
        metadata (dict): The graph's metadata (``hdr_mm_stage``,
            ``input_size``, ...).
        input_names, output_names (list[str]): As exported.

    Raises:
        FileNotFoundError: ``onnx_file`` does not exist.
        OnnxFileError: onnxruntime cannot load it
            (:func:`open_onnx_session`).
    """

    backend = 'onnxruntime'

    def __init__(self,
                 onnx_file: str,
                 num_threads: Optional[int] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', ),
                 spinning: bool = False) -> None:
        import onnxruntime as ort
        opts = ort.SessionOptions()
        if num_threads is not None:
            opts.intra_op_num_threads = int(num_threads)
            opts.inter_op_num_threads = 1
        for pool in ('intra_op', 'inter_op'):
            opts.add_session_config_entry(f'session.{pool}.allow_spinning',
                                          '1' if spinning else '0')
        opts.graph_optimization_level = \
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.onnx_file = onnx_file
        self.session = open_onnx_session(onnx_file, opts, providers)
        self.metadata: Dict[str, str] = dict(
            self.session.get_modelmeta().custom_metadata_map)
        self.input_names: List[str] = [
            i.name for i in self.session.get_inputs()]
        self.output_names: List[str] = [
            o.name for o in self.session.get_outputs()]

    def infer(self, feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """``session.run`` of all outputs (see :meth:`StageNetwork.infer`).
        """
        return self.session.run(self.output_names, feed)


class ORTSegmentor(SegmentorCalls, ORTNetwork):
    """HASM through onnxruntime (:class:`SegmentorCalls`)."""


class ORTGenerator(GeneratorCalls, ORTNetwork):
    """TDR's generator through onnxruntime (:class:`GeneratorCalls`)."""


class ORTPoseMaps(PoseMapsCalls, ORTNetwork):
    """SHPE's network through onnxruntime (:class:`PoseMapsCalls`)."""


_RUNNERS = dict(hasm=ORTSegmentor, tdr=ORTGenerator, shpe=ORTPoseMaps)


def load_ort_stage(onnx_file: str,
                   num_threads: Optional[int] = None,
                   providers: Sequence[str] = ('CPUExecutionProvider', ),
                   spinning: bool = False) -> ORTNetwork:
    """Open an exported stage network with the runner of its stage.

    Args:
        onnx_file: A file written by :func:`~hdr_mm.deploy.export_stage`
            (its metadata names the stage).
        num_threads: onnxruntime's intra-op threads.
        providers: Execution providers.
        spinning: Whether its worker threads spin between calls (see
            :class:`ORTNetwork`; off by default).

    Returns:
        ORTNetwork: an :class:`ORTSegmentor`, :class:`ORTGenerator` or
        :class:`ORTPoseMaps`.

    Raises:
        FileNotFoundError: the file does not exist.
        OnnxFileError: onnxruntime cannot load it, or its metadata names
            no stage, or its inputs and outputs are not the stage's.
    """
    return as_stage_runner(
        ORTNetwork(onnx_file, num_threads, providers, spinning), _RUNNERS)
