"""What every runner of an exported stage graph shares, whatever runs it.

A backend (:mod:`.ort_backend`, :mod:`.openvino_backend`) subclasses
:class:`StageNetwork` with how it opens a file and runs it on numpy
arrays; this module gives it the rest:

- :class:`StageNetwork`: torch tensors in and out (any float dtype and
  device in, float32 on the first input's device out), the number of
  inputs checked, the graph's metadata (``hdr_mm_stage``, ...);
- the torch call signatures of each stage, as mixins:
  :class:`SegmentorCalls` (HASM's ``encode_decode``),
  :class:`GeneratorCalls` (TDR's ``(x, mask) -> (out, out_mask)``),
  :class:`PoseMapsCalls` (SHPE's ``inputs -> (heatmaps, delta_maps,
  location_maps)``); a backend's runner of a stage is the mixin plus
  its :class:`StageNetwork`;
- the refusal of a file that is not a usable stage graph, with an
  :class:`OnnxFileError` naming it and what was expected:
  :func:`check_onnx_file` (missing, empty), :func:`unloadable_file`
  (the backend cannot read it) and :func:`as_stage_runner` (readable,
  but not the graph of an hdr_mm stage).
"""
from typing import Dict, List, Sequence, Tuple, Type

import numpy as np
import torch

from hdr_mm.utils.user_files import require_file

from .onnx_export import STAGE_NETWORKS

#: what to do about a file that is not a usable stage graph
REEXPORT_HINT = ('export it again (tools/deployment/pytorch2onnx.py or '
                 'hdr_mm.deploy.export_stage)')


class OnnxFileError(ValueError):
    """An ``.onnx`` file cannot be used: the backend cannot load it, or
    it is not the graph of an hdr_mm stage. The message names the file."""


def check_onnx_file(onnx_file: str) -> None:
    """Refuse a file that is missing or empty, before a backend reads it.

    Args:
        onnx_file: The ``.onnx`` file.

    Raises:
        FileNotFoundError: the file does not exist.
        IsADirectoryError: it is a folder.
        OnnxFileError: it is empty (OpenVINO would read it as an empty
            model), or it is an OpenVINO IR (XML) or an HTML page.
    """
    require_file(onnx_file, 'ONNX file')
    with open(onnx_file, 'rb') as f:
        head = f.read(256)
    if not head:
        raise OnnxFileError(f'cannot load ONNX file {onnx_file}: it is '
                            f'empty; {REEXPORT_HINT}')
    if head.lstrip().startswith((b'<?xml', b'<net', b'<!DOCTYPE', b'<html')):
        what = ('an OpenVINO IR (.xml)' if b'<net' in head else
                'an XML or HTML file')
        raise OnnxFileError(
            f'cannot load ONNX file {onnx_file}: it is {what}, not an ONNX '
            'model (the runners read the .onnx graphs that hdr_mm exports, '
            f'with their stage metadata); {REEXPORT_HINT}')


def unloadable_file(onnx_file: str, engine: str, reason: str,
                    error_type: str) -> OnnxFileError:
    """The error for a file a backend cannot read.

    Args:
        onnx_file: The file.
        engine: Who failed to read it, e.g. ``'onnxruntime'``.
        reason: Its own reason, one line (e.g. ``'Protobuf parsing
            failed.'``).
        error_type: The class name of its exception.

    Returns:
        OnnxFileError: to be raised (``from None``: the backend's C++
        traceback says no more than ``reason``).
    """
    return OnnxFileError(
        f'cannot load ONNX file {onnx_file}: {engine} says "{reason}" '
        f'({error_type}); the file is truncated, corrupt or not an ONNX '
        f'model; {REEXPORT_HINT}')


class StageNetwork:
    """A stage graph, opened by a backend, fed and answering with torch
    tensors.

    A backend's subclass sets, in its constructor, ``onnx_file``,
    ``metadata``, ``input_names`` and ``output_names``, and implements
    :meth:`infer`.

    Attributes:
        onnx_file (str): The file the graph was read from.
        metadata (dict[str, str]): The graph's metadata
            (``hdr_mm_stage``, ``input_size``, ...).
        input_names, output_names (list[str]): As exported.
    """

    #: the backend's name, in messages
    backend = ''
    onnx_file: str
    metadata: Dict[str, str]
    input_names: List[str]
    output_names: List[str]

    @property
    def stage(self) -> str:
        """The stage the file was exported from (metadata), or None."""
        return self.metadata.get('hdr_mm_stage')

    def infer(self, feed: Dict[str, np.ndarray]) -> Sequence[np.ndarray]:
        """Run the graph on numpy arrays (the backend's part).

        Args:
            feed: Input name -> contiguous float32 array.

        Returns:
            One array per output, in the order of ``output_names``.
        """
        raise NotImplementedError

    def run(self, *inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Run the graph.

        Args:
            *inputs: One tensor per graph input, in order; any float
                dtype or device (fed as contiguous float32 CPU arrays).

        Returns:
            tuple of float32 tensors, on the device of the first input.

        Raises:
            ValueError: not one tensor per graph input.
        """
        if len(inputs) != len(self.input_names):
            raise ValueError(
                f'{self.onnx_file}: expected {len(self.input_names)} '
                f'inputs {self.input_names}, got {len(inputs)}')
        device = inputs[0].device
        feed = {
            name: np.ascontiguousarray(t.detach().float().cpu().numpy())
            for name, t in zip(self.input_names, inputs)
        }
        return tuple(
            torch.from_numpy(np.asarray(o, dtype=np.float32)).to(device)
            for o in self.infer(feed))

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.onnx_file!r})'


class SegmentorCalls:
    """HASM's calls on a :class:`StageNetwork` of its graph.

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


class GeneratorCalls:
    """TDR's generator on a :class:`StageNetwork` of its graph: ``(x,
    mask) -> (out, out_mask)``, shapes as
    :class:`~hdr_mm.models.tdr.PConvUNet` ((N, 8, S, S) in, (N, 3, S, S)
    out)."""

    def __call__(self, x: torch.Tensor,
                 mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out, out_mask = self.run(x, mask)
        return out, out_mask


class PoseMapsCalls:
    """SHPE's network on a :class:`StageNetwork` of its graph: normalised
    (N, 3, S, S) crops -> ``(heatmaps, delta_maps, location_maps)`` as
    ``head.forward(extract_feat(inputs))``; the joints are then read by
    the torch head's :meth:`~hdr_mm.models.shpe.DetNetHead.decode_maps`."""

    def __call__(self, inputs: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hm, dm, lm = self.run(inputs)
        return hm, dm, lm


def as_stage_runner(probe: StageNetwork,
                    runners: Dict[str, Type[StageNetwork]]
                    ) -> StageNetwork:
    """The opened graph as the runner of the stage its metadata names,
    once its inputs and outputs are checked.

    Args:
        probe: The graph, opened by a backend's :class:`StageNetwork`.
        runners: That backend's stage -> runner class (a subclass of the
            probe's class and of the stage's calls mixin).

    Returns:
        StageNetwork: the probe, now an instance of the stage's runner
        (nothing is opened twice).

    Raises:
        OnnxFileError: the metadata names no stage, or the graph's inputs
            and outputs are not the stage's (:data:`STAGE_NETWORKS`).
    """
    cls = runners.get(probe.stage)
    if cls is None:
        raise OnnxFileError(
            f'{probe.onnx_file} is not the graph of an hdr_mm stage: its '
            f'metadata has no hdr_mm_stage in {sorted(runners)} (got '
            f'{probe.metadata}); {REEXPORT_HINT}')
    expected = STAGE_NETWORKS[probe.stage]
    found = (tuple(probe.input_names), tuple(probe.output_names))
    if found != expected:
        raise OnnxFileError(
            f'{probe.onnx_file} is not the {probe.stage} graph that hdr_mm '
            f'exports: inputs {list(found[0])} and outputs '
            f'{list(found[1])}, expected {list(expected[0])} and '
            f'{list(expected[1])}; {REEXPORT_HINT}')
    probe.__class__ = cls
    return probe
