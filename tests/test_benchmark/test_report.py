"""hdr_mm.benchmark.report: efficiency, Markdown tables, the report."""
import pytest

from hdr_mm.benchmark.harness import summarize
from hdr_mm.benchmark.report import (efficiency, fmt, markdown_table,
                                     report, report_text)


def test_efficiency():
    # 10 GFLOP in 100 ms: 100 GFLOP/s, a quarter of a 400 GFLOP/s peak
    gflops, frac = efficiency(10e9, 100.0, 400.0)
    assert gflops == pytest.approx(100.0) and frac == pytest.approx(0.25)
    assert efficiency(None, 100.0, 400.0) == (None, None)
    assert efficiency(10e9, 100.0, None)[1] is None


def test_markdown_table_and_fmt():
    table = markdown_table(['stage', 'ms'], [['hasm', '12.6'], ['tdr', 'n/a']])
    assert table.splitlines() == [
        '| stage | ms |', '|---|---:|', '| hasm | 12.6 |', '| tdr | n/a |']
    with pytest.raises(ValueError, match='2 cells, expected 3'):
        markdown_table(['a', 'b', 'c'], [['x', 'y']])
    assert fmt(None) == 'n/a' and fmt(float('nan')) == 'n/a'
    assert fmt(3.14159, 2) == '3.14'


def test_report():
    """Two modes on two stages: the tables, the speed-up line, the notes
    on FLOPs and the failed calls, and the summary numbers."""
    results = dict(
        eager=dict(shpe={1: summarize([0.010], 1)},
                   hdr={1: summarize([0.040], 1),
                        2: summarize([0.060], 2)}),
        bf16=dict(shpe={1: dict(error='RuntimeError: no kernel')},
                  hdr={1: summarize([0.020], 1)}))
    flops = dict(shpe=dict(flops=int(1e9), unsupported={'aten::amax': 2},
                           error=None),
                 hdr=dict(flops=int(1e9), unsupported={}, error=None))
    peaks = dict(fp32=dict(gflops=400.0), bf16=dict(gflops=800.0))
    text, summary = report(results, flops, peaks, ['shpe', 'hdr'])
    lines = text.splitlines()
    assert lines[0] == ('| stage | input per image | GFLOP / image | '
                        'eager ms | eager img/s | bf16 ms | bf16 img/s |')
    assert lines[2] == ('| shpe | 2 hand crops | 2.00 | 10.0 | 100.00 | '
                        'failed | n/a |')
    assert lines[3] == ('| hdr | 1 two-hand crop (uint8) | 2.00 | 40.0 | '
                        '33.33 | 20.0 | 50.00 |')
    assert 'end-to-end speed-up over eager: bf16 2.00x' in lines
    # 2 GFLOP in 10 ms: 200 GFLOP/s, half the fp32 peak
    assert '| shpe | 200.0 | 50.0% | n/a | n/a |' in lines
    assert 'shpe: ops without a FLOP formula: aten::amax x2' in lines
    assert lines[-1] == 'failed: bf16 shpe batch 1: RuntimeError: no kernel'
    assert summary['eager']['hdr']['img_per_s'] == pytest.approx(100 / 3)
    assert summary['bf16']['hdr']['of_peak'] == pytest.approx(0.125)
    assert summary['bf16']['shpe']['error'] == 'RuntimeError: no kernel'


def test_report_text():
    text = report_text('c.py', [1, 2], 2, 10, dict(cpu='X', usable_cores=2),
                       dict(fp32=dict(gflops=95.63, kernel='mm', size=1024)),
                       '| table |')
    assert text.splitlines() == [
        '# HDR benchmark', '',
        'config: c.py; random weights; batch sizes 1,2; 2 warm-up + 10 '
        'timed iterations, modes interleaved; latency = median at batch 1, '
        'per two-hand image', 'machine: cpu X, usable_cores 2',
        'GEMM peak: fp32 95.6 GFLOP/s (mm, n=1024)', '', '| table |', '',
        'GFLOP: 2 x multiply-adds of the network (mmengine FlopAnalyzer; '
        'element-wise ops not counted); hdr adds the glue (crops, '
        'pre-processing, read-out) to the time but not to the count.'
    ]


def test_report_auto_against_the_peak_it_chose():
    """'auto' has no fixed peak: it is compared with that of the precision
    it chose; the report says what each mode ran."""
    results = dict(auto=dict(shpe={1: summarize([0.010], 1)}))
    flops = dict(shpe=dict(flops=int(1e9), unsupported={}, error=None))
    peaks = dict(fp32=dict(gflops=400.0), bf16=dict(gflops=800.0))
    text, summary = report(results, flops, peaks, ['shpe'],
                           dict(auto='bf16'))
    assert '| stage | auto GFLOP/s | auto of bf16 peak |' in text
    assert summary['auto']['shpe']['of_peak'] == pytest.approx(0.25)
    text = report_text('c.py', [1], 0, 1, dict(cpu='X'),
                       dict(fp32=dict(gflops=95.63, kernel='mm', size=8)),
                       '| table |', dict(eager='PyTorch fp32 (as built), '
                                         'as asked',
                                         auto='onnxruntime fp32, chosen by '
                                         'auto: why'))
    lines = text.splitlines()
    i = lines.index('modes:')
    assert lines[i:i + 4] == [
        'modes:', '- eager: PyTorch fp32 (as built), as asked',
        '- auto: onnxruntime fp32, chosen by auto: why', '']
    assert lines[i + 4] == '| table |'
