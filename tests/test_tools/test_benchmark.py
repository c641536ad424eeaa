"""tools/analysis_tools/benchmark.py: its pure helpers (argument parsing,
statistics, Markdown tables, FLOP counting, efficiency) and its main path
end to end on the tiny pipeline for one iteration. Nothing here asserts
a timing."""
import argparse
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/analysis_tools/benchmark.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('hdr_benchmark', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parse_int_list(bench):
    assert bench.parse_int_list('1,2, 4') == [1, 2, 4]
    for bad in ('', '0,1', 'a', '1,-2'):
        with pytest.raises(argparse.ArgumentTypeError):
            bench.parse_int_list(bad)


def test_parse_stages_and_modes_keep_order(bench):
    assert bench.parse_stages('hdr,hasm,tdr') == ['hasm', 'tdr', 'hdr']
    with pytest.raises(argparse.ArgumentTypeError, match='hdrm'):
        bench.parse_stages('hasm,hdrm')
    assert bench.parse_modes('ort,bf16,eager') == ['eager', 'bf16', 'ort']
    with pytest.raises(argparse.ArgumentTypeError, match='fp16'):
        bench.parse_modes('fp16')


def test_efficiency(bench):
    # 10 GFLOP in 100 ms: 100 GFLOP/s, a quarter of a 400 GFLOP/s peak
    gflops, frac = bench.efficiency(10e9, 100.0, 400.0)
    assert gflops == pytest.approx(100.0) and frac == pytest.approx(0.25)
    assert bench.efficiency(None, 100.0, 400.0) == (None, None)
    assert bench.efficiency(10e9, 100.0, None)[1] is None


def test_summarize(bench):
    # 10, 20, 30, 40 ms for a batch of 2: median 25 ms; the 90th
    # percentile interpolates 0.7 of the way from 30 to 40 ms
    s = bench.summarize([0.040, 0.010, 0.030, 0.020], batch_size=2)
    assert s['median_ms'] == pytest.approx(25.0)
    assert s['p90_ms'] == pytest.approx(37.0)
    assert s['ms_per_image'] == pytest.approx(12.5)
    assert s['images_per_s'] == pytest.approx(80.0)
    assert s['iters'] == 4
    with pytest.raises(ValueError, match='no timed'):
        bench.summarize([], 1)


def test_best_throughput_skips_failed_batches(bench):
    per_batch = {
        1: bench.summarize([0.010], 1),  # 100 img/s
        2: bench.summarize([0.010], 2),  # 200 img/s
        4: dict(error='out of memory'),
    }
    batch, stats = bench.best_throughput(per_batch)
    assert batch == 2 and stats['images_per_s'] == pytest.approx(200.0)
    assert bench.best_throughput({1: dict(error='x')}) is None


def test_markdown_table(bench):
    table = bench.markdown_table(['stage', 'ms'],
                                 [['hasm', '12.6'], ['tdr', 'n/a']])
    assert table.splitlines() == [
        '| stage | ms |', '|---|---:|', '| hasm | 12.6 |', '| tdr | n/a |']
    with pytest.raises(ValueError, match='2 cells, expected 3'):
        bench.markdown_table(['a', 'b', 'c'], [['x', 'y']])
    assert bench.fmt(None) == 'n/a' and bench.fmt(float('nan')) == 'n/a'
    assert bench.fmt(3.14159, 2) == '3.14'


class _Attention(nn.Module):

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


class _NotTraceable(nn.Module):

    def forward(self, x):
        return x.tolist()


def test_count_flops(bench):
    # q (2, 3, 5, 4), k (2, 3, 7, 4), v (2, 3, 7, 6): 6 (batch, head)
    # pairs x 5 queries x 7 keys x (4 score + 6 value) multiply-adds; the
    # softmax inside is element-wise and not counted
    q, k, v = torch.rand(2, 3, 5, 4), torch.rand(2, 3, 7, 4), torch.rand(
        2, 3, 7, 6)
    res = bench.count_flops(_Attention(), (q, k, v))
    assert res == dict(flops=2 * 3 * 5 * 7 * (4 + 6), unsupported={},
                       error=None)
    # a 3x3 conv 2 -> 4 channels on 8x8 (padding 1): 64 outputs x 4
    # channels x 2 x 9 taps; the ReLU after it is element-wise; the
    # max-pool has no formula and is reported
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False),
                        nn.ReLU(), nn.MaxPool2d(2))
    res = bench.count_flops(net, (torch.rand(1, 2, 8, 8), ))
    assert res['flops'] == 64 * 4 * 2 * 9
    assert res['unsupported'] == {'aten::max_pool2d': 1}
    res = bench.count_flops(_NotTraceable(), (torch.rand(2), ))
    assert res['flops'] is None and res['error']


def test_gemm_peak(bench):
    peak = bench.gemm_peak(torch.float32, torch.device('cpu'),
                           min_time_s=0.0, max_size=256)
    assert peak['size'] == 256 and peak['gflops'] > 0


def test_main_path_tiny_pipeline(bench, capsys, tmp_path):
    """The whole script on the tiny pipeline, one iteration of every mode
    (eager, fp32, bf16, onnxruntime when installed) and every stage."""
    modes = 'eager,fp32,bf16'
    try:
        import onnxruntime  # noqa: F401
        modes += ',ort'
    except ImportError:
        pass
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
    assert 'end-to-end speed-up over eager' in text
