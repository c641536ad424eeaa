"""hdr_mm.benchmark.modes: one short run through :func:`bench_modes` (its
signature and result layout are what outside scripts rely on). Nothing
here asserts a timing."""
import inspect

import torch

from hdr_mm.benchmark.modes import MODE_PEAK, MODES, bench_modes


def test_modes_have_a_peak():
    assert set(MODE_PEAK) == set(MODES)


def test_bench_modes_signature():
    assert list(inspect.signature(bench_modes).parameters) == [
        'config', 'cfg_options', 'modes', 'device', 'stages', 'batch_sizes',
        'warmup', 'iters', 'threads'
    ]


def test_bench_modes_layout(bench_config, capsys):
    res = bench_modes(bench_config, None, ['eager', 'fp32'],
                      torch.device('cpu'), ['shpe'], [1], 0, 1, None)
    assert list(res) == ['eager', 'fp32']
    for mode in res:
        assert list(res[mode]) == ['shpe'] and list(res[mode]['shpe']) == [1]
        assert set(res[mode]['shpe'][1]) == {
            'median_ms', 'p90_ms', 'ms_per_image', 'images_per_s', 'iters'
        }
    assert '[fp32] shpe  batch 1:' in capsys.readouterr().err
