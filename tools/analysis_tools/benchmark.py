"""Latency, throughput and efficiency of the HDR stage networks and of the
whole pipeline, in several precisions and backends side by side.

    python tools/analysis_tools/benchmark.py \
        [--config configs/hdr/hdr_paper_interhand2.6m-256x256.py] \
        [--modes eager,auto,ort,openvino] [--device cpu|cuda] \
        [--batch-sizes 1] [--num-iters 10] [--warmup 2] [--threads N] \
        [--stages hasm,tdr,shpe,hdr] [--no-flops] [--out results.json]

The modes, what is timed and how are described in :mod:`hdr_mm.benchmark`
(and docs/benchmark.md), which does the work. :func:`bench_modes` stays
importable from here for scripts that call it.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.benchmark import bench_modes, main, parse_args  # noqa: E402,F401

if __name__ == '__main__':
    main()
