"""Deployment of the stage networks: ONNX export and onnxruntime runners.

- :mod:`.onnx_export`: the three networks as ONNX graphs (HASM logits,
  the TDR generator with its partial convolutions, SHPE's maps).
- :mod:`.ort_backend`: onnxruntime sessions with the call signatures of
  the torch networks, so the pipeline can run either; files that are not
  a stage's graph are refused (:class:`OnnxFileError`).
- :mod:`.onnx_cache`: the folder the pipeline's onnxruntime backend
  exports into, which it overwrites only where it wrote.

``onnx`` and ``onnxruntime`` are imported only when used.
"""
from .onnx_export import (STAGE_NETWORKS, STAGE_WRAPPERS, HASMLogitsNet,
                          SHPEMapsNet, TDRGeneratorNet, example_inputs,
                          export_stage)
from .onnx_cache import OnnxExportCache
from .ort_backend import (OnnxFileError, ORTGenerator, ORTNetwork,
                          ORTPoseMaps, ORTSegmentor, load_ort_stage,
                          open_onnx_session)

__all__ = [
    'STAGE_NETWORKS', 'STAGE_WRAPPERS', 'HASMLogitsNet', 'SHPEMapsNet',
    'TDRGeneratorNet', 'example_inputs', 'export_stage', 'OnnxExportCache',
    'OnnxFileError', 'ORTNetwork', 'ORTSegmentor', 'ORTGenerator',
    'ORTPoseMaps', 'load_ort_stage', 'open_onnx_session'
]
