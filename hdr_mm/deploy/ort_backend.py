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
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch


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
        self.session = ort.InferenceSession(
            onnx_file, sess_options=opts, providers=list(providers))
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
    """
    probe = ORTNetwork(onnx_file, num_threads, providers)
    cls = _RUNNERS.get(probe.stage)
    if cls is None:
        raise ValueError(f'{onnx_file}: no hdr_mm_stage in its metadata '
                         f'(got {probe.metadata}); export it with '
                         'hdr_mm.deploy.export_stage')
    runner = cls.__new__(cls)
    runner.__dict__.update(probe.__dict__)
    return runner
