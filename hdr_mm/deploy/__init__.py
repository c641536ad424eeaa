"""Deployment of the stage networks: ONNX export, and the graph backends
(onnxruntime, OpenVINO) that run the exported graphs.

- :mod:`.onnx_export`: the three networks as ONNX graphs (HASM logits,
  the TDR generator with its partial convolutions, SHPE's maps).
- :mod:`.stage_runner`: what every runner shares: the call signatures of
  the torch networks, so the pipeline can run either, and the refusal of
  files that are not a stage's graph (:class:`OnnxFileError`).
- :mod:`.ort_backend`: onnxruntime sessions as runners.
- :mod:`.openvino_backend`: the graphs compiled by OpenVINO for the CPU
  (f32, or bf16 where the CPU has it natively) as runners.
- :mod:`.int8`: a float32 stage graph quantized to an int8 QDQ graph
  (``<stage>.int8.onnx``), calibrated on the network's real inputs, with
  float32 islands where int8 hurts; run with ``precision='int8'``.
- :mod:`.graph_backends`: backend name -> engine
  (:data:`GRAPH_BACKENDS`), and the export-and-load the pipeline uses.
- :mod:`.onnx_cache`: the folder the pipeline's graph backends export
  into, which they overwrite only where they wrote.
- :mod:`.auto`: ``precision='auto'`` / ``backend='auto'``: the path for
  the machine at hand, and why.

``onnx``, ``onnxruntime`` and ``openvino`` are imported only when used.
"""
from .onnx_export import (STAGE_NETWORKS, STAGE_WRAPPERS, HASMLogitsNet,
                          SHPEMapsNet, TDRGeneratorNet, example_inputs,
                          export_stage)
from .onnx_cache import OnnxExportCache
from .stage_runner import OnnxFileError, StageNetwork
from .ort_backend import (ORTGenerator, ORTNetwork, ORTPoseMaps,
                          ORTSegmentor, load_ort_stage, open_onnx_session)
from .openvino_backend import (OVGenerator, OVNetwork, OVPoseMaps,
                               OVSegmentor, load_ov_stage, read_onnx_model)
from .int8 import (DEFAULT_FP32_ISLANDS, Fp32Islands, NumpyCalibrationReader,
                   int8_graph_path, quantize_stage)
from .graph_backends import GRAPH_BACKENDS, installed_graph_backends
from .auto import (MachineFacts, RuntimeChoice, decide_runtime,
                   machine_facts)

__all__ = [
    'STAGE_NETWORKS', 'STAGE_WRAPPERS', 'HASMLogitsNet', 'SHPEMapsNet',
    'TDRGeneratorNet', 'example_inputs', 'export_stage', 'OnnxExportCache',
    'OnnxFileError', 'StageNetwork', 'ORTNetwork', 'ORTSegmentor',
    'ORTGenerator', 'ORTPoseMaps', 'load_ort_stage', 'open_onnx_session',
    'OVNetwork', 'OVSegmentor', 'OVGenerator', 'OVPoseMaps', 'load_ov_stage',
    'read_onnx_model', 'DEFAULT_FP32_ISLANDS', 'Fp32Islands',
    'NumpyCalibrationReader', 'int8_graph_path', 'quantize_stage',
    'GRAPH_BACKENDS',
    'installed_graph_backends', 'MachineFacts', 'RuntimeChoice',
    'decide_runtime', 'machine_facts'
]
