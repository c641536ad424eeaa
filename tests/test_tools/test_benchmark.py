"""tools/analysis_tools/benchmark.py: the command end to end on the tiny
pipeline for one iteration, and what outside scripts import from it. Its
parts are tested under tests/test_benchmark. Nothing here asserts a
timing."""
import importlib.util
import os.path as osp

import pytest

import hdr_mm.benchmark

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/analysis_tools/benchmark.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('hdr_benchmark', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_modes_importable_from_the_script(bench):
    assert bench.bench_modes is hdr_mm.benchmark.bench_modes
    assert bench.main is hdr_mm.benchmark.main


def test_main_path_tiny_pipeline(bench, capsys, tmp_path):
    """The whole script on the tiny pipeline, one iteration of every mode
    (eager, fp32, bf16, onnxruntime and OpenVINO when installed, auto)
    and every stage; the report says what each mode ran, and for auto
    why."""
    from hdr_mm.deploy import installed_graph_backends
    engines = installed_graph_backends()
    modes = 'eager,fp32,bf16'
    modes += ',ort' if 'onnxruntime' in engines else ''
    modes += ',openvino' if 'openvino' in engines else ''
    modes += ',auto'
    out_file = tmp_path / 'bench.json'
    out = bench.main([
        '--config', 'configs/hdr/hdr_tiny_synthetic-256x256.py',
        '--modes', modes, '--num-iters', '1', '--warmup', '0',
        '--threads', '1', '--out', str(out_file)])
    text = capsys.readouterr().out
    assert '# HDR benchmark' in text and 'GEMM peak: fp32' in text
    assert 'PyTorch' in out['machine'] and out['gemm_peak']['bf16']['gflops']
    for mode in modes.split(','):
        for stage in ('hasm', 'tdr', 'shpe', 'hdr'):
            res = out['results'][mode][stage]['1']
            assert 'median_ms' in res, (mode, stage, res)
            assert out['summary'][mode][stage]['gflops'] is None or \
                out['summary'][mode][stage]['of_peak'] > 0
    for stage in ('hasm', 'tdr', 'shpe'):
        assert out['flops'][stage]['flops'] > 0
    assert out_file.exists()
    assert 'chosen by auto: ' in out['runtimes']['auto']
    assert f'- auto: {out["runtimes"]["auto"]}' in text.splitlines()
    assert '- eager: PyTorch fp32 (as built), as asked' in text
    assert 'end-to-end speed-up over eager' in text
