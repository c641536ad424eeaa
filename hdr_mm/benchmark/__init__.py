"""Latency, throughput and efficiency of the HDR stage networks and of the
whole pipeline, in several precisions and backends side by side (the
library of ``tools/analysis_tools/benchmark.py``).

The pipeline (:class:`HDRPoseEstimator`) is built from an HDR config with
random weights (latency does not depend on them), once per mode:

- ``eager``: float32, the networks as the config builds them;
- ``fp32``: float32 after :func:`hdr_mm.models.utils.prepare_for_inference`
  (BatchNorms folded, ``channels_last`` where the network wants it,
  attention without its unused weights output);
- ``fp32c``: the same plus ``torch.compile`` of the networks (compiled
  during the warm-up calls, which must then be >= 1);
- ``bf16``: prepared for bf16 and run under CPU (or CUDA) autocast;
- ``ort``: the stage networks exported to ONNX and run by onnxruntime
  (CPU only);
- ``openvino``: the same graphs compiled by OpenVINO in f32 (CPU only);
- ``openvino_bf16``: ... in bf16 (only on a CPU with native bf16, AMX or
  AVX512-BF16: elsewhere OpenVINO would compile f32, so it is refused);
- ``ort_int8``, ``openvino_int8``: the graphs quantized to int8 (QDQ,
  :mod:`hdr_mm.deploy.int8`), calibrated on the benchmark's random
  inputs: for timing only (accuracy: ``tools/deployment/
  quantize_int8.py`` and ``tools/test.py``); compared with the fp32
  peak;
- ``auto``: what the pipeline runs by default, ``precision='auto'``,
  ``backend='auto'`` (:mod:`hdr_mm.deploy.auto`); the report says which
  path it chose and why;
- ``auto_int8``: the same with the int8 modes' quantized graphs in its
  ``onnx_dir``, as for a user who ran ``tools/deployment/
  quantize_int8.py``: OpenVINO int8 with VNNI, onnxruntime int8 on AVX2
  without VNNI (no AMX in either case), the path of ``auto`` elsewhere
  (CPU only);
- ``authors`` (with ``--authors-repo PATH``, paper size only): the
  authors' own TDR generator and DetNet imported from a clone of their
  repository (running their code) and timed on the same inputs; its
  ``hasm`` is eager's and its ``hdr`` is composed (:mod:`.authors`).

Every mode is a runtime of the pipeline
(``HDRPoseEstimator.set_runtime(precision, backend)``,
:data:`~.modes.BENCH_MODES`), so each stage is timed through the network
the pipeline runs and end to end the same glue calls it.

Timed, per two-hand image (a batch of N images is N HASM inputs and 2N
TDR/SHPE inputs):

- ``hasm``: ``encode_decode`` of the segmentor on pre-processed crops;
- ``tdr``: the generator ``generator(x, mask)``;
- ``shpe``: ``head.forward(extract_feat(x))``, the maps;
- ``hdr``: ``model.test_step(data)`` from N uint8 crops to the 42 joints
  per image (all stages, the glue between them, the read-out).

For each: latency (median of the timed batch-1 iterations), throughput
(best images/s over the batch sizes), the FLOPs (mmengine's
``FlopAnalyzer``: multiply-adds, counted x2 here as floating-point
operations), the GFLOP/s achieved and that figure as a fraction of the
dense GEMM peak measured in the same run for the precision used (fp32
peak for eager/fp32/ort/openvino, bf16 peak for bf16/openvino_bf16, and
for auto that of the precision it chose). The machine line comes
from mmengine's ``collect_env`` and :func:`hdr_mm.utils.cpu_info`.

Modules, one concept each:

- :mod:`.harness`: callables timed in turn, statistics of the timings;
- :mod:`.pipeline`: the pipeline with random weights, its stage
  networks and their inputs;
- :mod:`.modes`: the modes, each mode's set-up and :func:`bench_modes`,
  the run over modes, stages and batch sizes;
- :mod:`.authors`: the authors' networks, their column;
- :mod:`.flops`: FLOP counts of the stage networks;
- :mod:`.machine`: the machine line and the GEMM peak;
- :mod:`.report`: efficiency, Markdown tables and the printed report;
- :mod:`.cli`: the command's arguments and main path.

Not imported by ``import hdr_mm``.
"""
from .authors import (AUTHORS_MODE, AUTHORS_NETWORKS, authors_setup,
                      check_authors_repo, check_paper_size, compose_authors,
                      load_authors_networks)
from .cli import (DEFAULT_CONFIG, main, parse_args, parse_int_list,
                  parse_modes, parse_stages)
from .flops import ELEMENTWISE_OPS, count_flops, sdpa_flop_jit, stage_flops
from .harness import best_throughput, summarize, synchronize, time_interleaved
from .machine import gemm_peak, machine_line
from .modes import (BENCH_MODES, MODE_PEAK, MODES, BenchMode, ModeSetup,
                    bench_modes, prepare_mode, setup_modes, time_modes)
from .pipeline import (STAGE_INPUT, STAGES, BenchInputs, build_pipeline,
                       stage_networks)
from .report import efficiency, fmt, markdown_table, report, report_text

__all__ = [
    'AUTHORS_MODE', 'AUTHORS_NETWORKS', 'authors_setup',
    'check_authors_repo', 'check_paper_size', 'compose_authors',
    'load_authors_networks',
    'DEFAULT_CONFIG', 'main', 'parse_args', 'parse_int_list', 'parse_modes',
    'parse_stages', 'ELEMENTWISE_OPS', 'count_flops', 'sdpa_flop_jit',
    'stage_flops', 'best_throughput', 'summarize', 'synchronize',
    'time_interleaved', 'gemm_peak', 'machine_line', 'BENCH_MODES',
    'MODE_PEAK', 'MODES', 'BenchMode', 'ModeSetup', 'bench_modes',
    'prepare_mode', 'setup_modes', 'time_modes', 'STAGE_INPUT', 'STAGES',
    'BenchInputs', 'build_pipeline', 'stage_networks', 'efficiency', 'fmt',
    'markdown_table', 'report', 'report_text'
]
