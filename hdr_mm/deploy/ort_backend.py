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
writes or replaces a file.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .onnx_export import STAGE_NETWORKS

#: what to do about a file that is not a usable stage graph
REEXPORT_HINT = ('export it again (tools/deployment/pytorch2onnx.py or '
                 'hdr_mm.deploy.export_stage)')


class OnnxFileError(ValueError):
    """An ``.onnx`` file cannot be used: onnxruntime cannot load it, or
    it is not the graph of an hdr_mm stage. The message names the file."""


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
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
    if osp.getsize(onnx_file) == 0:
        raise OnnxFileError(f'cannot load ONNX file {onnx_file}: it is '
                            f'empty; {REEXPORT_HINT}')
    try:
        return ort.InferenceSession(
            onnx_file, sess_options=sess_options, providers=list(providers))
    except Exception as e:  # onnxruntime's InvalidProtobuf, Fail, ...
        raise OnnxFileError(
            f'cannot load ONNX file {onnx_file}: onnxruntime says '
            f'"{_ort_reason(e)}" ({type(e).__name__}); the file is '
            f'truncated, corrupt or not an ONNX model; {REEXPORT_HINT}'
        ) from None


class ORTNetwork:
    """An onnxruntime session fed and answering with torch tensors.

    Args:
        onnx_file: The ``.onnx`` file.
        num_threads: ``intra_op_num_threads`` (None: onnxruntime's
            default, one per core).
        providers: Execution providers, in order of preference.

    Attributes:
        metadata (dict): The graph's metadata (``hdr_mm_stage``,
            ``input_size``, ...).
        input_names, output_names (list[str]): As exported.

    Raises:
        FileNotFoundError: ``onnx_file`` does not exist.
        OnnxFileError: onnxruntime cannot load it
            (:func:`open_onnx_session`).
    """

    def __init__(self,
                 onnx_file: str,
                 num_threads: Optional[int] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', )
                 ) -> None:
        import onnxruntime as ort
        opts = ort.SessionOptions()
        if num_threads is not None:
            opts.intra_op_num_threads = int(num_threads)
            opts.inter_op_num_threads = 1
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

    @property
    def stage(self) -> Optional[str]:
        """The stage the file was exported from (metadata), or None."""
        return self.metadata.get('hdr_mm_stage')

    def run(self, *inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Run the graph.

        Args:
            *inputs: One tensor per graph input, in order; any float
                dtype or device (fed as contiguous float32 CPU arrays).

        Returns:
            tuple of float32 tensors, on the device of the first input.
        """
        if len(inputs) != len(self.input_names):
            raise ValueError(
                f'{self.onnx_file}: expected {len(self.input_names)} '
                f'inputs {self.input_names}, got {len(inputs)}')
        device = inputs[0].device
        feed = {
            name: np.ascontiguousarray(
                t.detach().float().cpu().numpy())
            for name, t in zip(self.input_names, inputs)
        }
        outs = self.session.run(self.output_names, feed)
        return tuple(torch.from_numpy(o).to(device) for o in outs)


class ORTSegmentor(ORTNetwork):
    """HASM through onnxruntime.

    The graph computes the (N, 2M, S/4, S/4) logits; :meth:`encode_decode`
    resizes them as mmseg's ``BaseDecodeHead.predict_by_feat`` does
    (bilinear, the head's ``align_corners``, to the metas' ``img_shape``
    or ``pad_shape``).
    """

    @property
    def align_corners(self) -> bool:
        """The decode head's ``align_corners`` (graph metadata)."""
        return self.metadata.get('align_corners', 'False') == 'True'

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) pre-processed crops -> (N, 2M, S/4, S/4)."""
        return self.run(inputs)[0]

    def encode_decode(self, inputs: torch.Tensor,
                      batch_img_metas: List[dict]) -> torch.Tensor:
        """As ``EncoderDecoder.encode_decode``: logits at the input size.

        Args:
            inputs: (N, C, S, S) pre-processed crops.
            batch_img_metas: One dict per image with ``img_shape`` (and
                optionally ``pad_shape``), as mmseg passes them.

        Returns:
            Tensor: (N, 2M, H, W) logits.
        """
        from mmseg.models.utils import resize
        logits = self(inputs)
        meta = batch_img_metas[0]
        if isinstance(meta['img_shape'], torch.Size):
            size = meta['img_shape']
        elif 'pad_shape' in meta:
            size = meta['pad_shape'][:2]
        else:
            size = meta['img_shape']
        return resize(logits, size=size, mode='bilinear',
                      align_corners=self.align_corners)


class ORTGenerator(ORTNetwork):
    """TDR's generator through onnxruntime: ``(x, mask) -> (out,
    out_mask)``, shapes as :class:`~hdr_mm.models.tdr.PConvUNet`."""

    def __call__(self, x: torch.Tensor,
                 mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out, out_mask = self.run(x, mask)
        return out, out_mask


class ORTPoseMaps(ORTNetwork):
    """SHPE's network through onnxruntime: normalised (N, 3, S, S) crops
    -> ``(heatmaps, delta_maps, location_maps)`` as
    ``head.forward(extract_feat(inputs))``."""

    def __call__(self, inputs: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hm, dm, lm = self.run(inputs)
        return hm, dm, lm


_RUNNERS = dict(hasm=ORTSegmentor, tdr=ORTGenerator, shpe=ORTPoseMaps)


def load_ort_stage(onnx_file: str,
                   num_threads: Optional[int] = None,
                   providers: Sequence[str] = ('CPUExecutionProvider', )
                   ) -> ORTNetwork:
    """Open an exported stage network with the runner of its stage.

    Args:
        onnx_file: A file written by :func:`~hdr_mm.deploy.export_stage`
            (its metadata names the stage).
        num_threads: onnxruntime's intra-op threads.
        providers: Execution providers.

    Returns:
        ORTNetwork: an :class:`ORTSegmentor`, :class:`ORTGenerator` or
        :class:`ORTPoseMaps`.

    Raises:
        FileNotFoundError: the file does not exist.
        OnnxFileError: onnxruntime cannot load it, or its metadata names
            no stage, or its inputs and outputs are not the stage's.
    """
    probe = ORTNetwork(onnx_file, num_threads, providers)
    cls = _RUNNERS.get(probe.stage)
    if cls is None:
        raise OnnxFileError(
            f'{onnx_file} is not the graph of an hdr_mm stage: its '
            f'metadata has no hdr_mm_stage in {sorted(_RUNNERS)} (got '
            f'{probe.metadata}); {REEXPORT_HINT}')
    expected = STAGE_NETWORKS[probe.stage]
    found = (tuple(probe.input_names), tuple(probe.output_names))
    if found != expected:
        raise OnnxFileError(
            f'{onnx_file} is not the {probe.stage} graph that hdr_mm '
            f'exports: inputs {list(found[0])} and outputs '
            f'{list(found[1])}, expected {list(expected[0])} and '
            f'{list(expected[1])}; {REEXPORT_HINT}')
    runner = cls.__new__(cls)
    runner.__dict__.update(probe.__dict__)
    return runner
