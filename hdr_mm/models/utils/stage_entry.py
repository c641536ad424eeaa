"""What a stage model offers the pipeline's backends, beside its entry.

Each of HDR's stages has one tensor-level inference entry, the only way
the pipeline (:class:`~hdr_mm.models.hdr.HDRPoseEstimator`) and its
runtime (:mod:`hdr_mm.models.hdr.runtime`) enter the stage's package:
``predict_masks`` (HASM), ``inpaint`` (TDR) and ``estimate_joints``
(SHPE). Each entry takes an optional ``network``: another implementation
of the network it runs between its own pre- and post-processing. A
backend plugs in there, through the hooks of :class:`StageEntryMixin`:

- a precision prepares the network the entry runs, in place
  (:meth:`~StageEntryMixin.prepare_inference`);
- onnxruntime exports that network (:meth:`~StageEntryMixin.export_onnx`)
  and opens it in the form the entry's ``network`` takes
  (:meth:`~StageEntryMixin.load_onnx`).

So a backend never needs to know a stage's parts (its generator, its
head, ...).
"""
from typing import Callable, Optional

import torch.nn as nn

from .inference_prep import model_precision, prepare_for_inference


class StageEntryMixin:
    """The backend hooks of a stage model (mixed into the model class).

    Attributes:
        stage (str): The stage's name in :mod:`hdr_mm.deploy`
            (``'hasm'``, ``'tdr'`` or ``'shpe'``).
    """

    stage: str = ''

    def inference_module(self) -> nn.Module:
        """The part of the model that the entry runs (prepared for a
        precision); the whole model unless a stage says otherwise.

        Returns:
            nn.Module: a submodule of the model, or the model.
        """
        return self

    def prepare_inference(self, precision: str) -> None:
        """Prepare what the entry runs for fast inference, once, in place
        (:func:`~hdr_mm.models.utils.prepare_for_inference`: BatchNorms
        folded, so no checkpoint loads afterwards).

        Args:
            precision: ``'fp32'`` or ``'bf16'`` (the entry then runs inside
                :func:`~hdr_mm.models.utils.inference_autocast`).
        """
        prepare_for_inference(self.inference_module(), precision)

    @property
    def inference_precision(self) -> Optional[str]:
        """The precision :meth:`prepare_inference` prepared the model for,
        None if it was not."""
        return model_precision(self.inference_module())

    def check_exportable(self) -> None:
        """Refuse a stage whose entry cannot run its network in a graph
        engine, before anything is exported (every stage can unless it
        says otherwise).

        Raises:
            ValueError: naming what the stage lacks.
        """

    def export_onnx(self, onnx_file: str, input_size: int) -> str:
        """Export the network the entry runs to ONNX (float32, dynamic
        batch; :func:`~hdr_mm.deploy.export_stage`).

        Args:
            onnx_file: The ``.onnx`` file (written atomically).
            input_size: Side S of the network's square input.

        Returns:
            str: ``onnx_file``.
        """
        from hdr_mm.deploy import export_stage
        return export_stage(self.stage, self, onnx_file, input_size)

    def load_onnx(self, onnx_file: str,
                  num_threads: Optional[int] = None,
                  engine: str = 'onnxruntime',
                  precision: Optional[str] = None) -> Callable:
        """The exported network through a graph engine, as the entry's
        ``network`` argument takes it.

        Args:
            onnx_file: A file :meth:`export_onnx` wrote.
            num_threads: The engine's inference threads (None: its
                default).
            engine: A key of
                :data:`hdr_mm.deploy.graph_backends.GRAPH_BACKENDS`
                (``'onnxruntime'``, ``'openvino'``).
            precision: None, ``'fp32'``, (OpenVINO) ``'bf16'`` or
                ``'int8'`` (the quantized graph next to ``onnx_file``,
                :mod:`hdr_mm.deploy.int8`).

        Returns:
            Callable: a runner of :mod:`hdr_mm.deploy.stage_runner`.
        """
        from hdr_mm.deploy.graph_backends import GRAPH_BACKENDS
        return GRAPH_BACKENDS[engine].load(onnx_file, num_threads, precision)
