"""hdr_mm.benchmark.modes: one short run through :func:`bench_modes` (its
signature and result layout are what outside scripts rely on), and the
modes 'auto' and 'openvino'. Nothing here asserts a timing."""
import inspect

import pytest
import torch

from hdr_mm.benchmark.modes import (BENCH_MODES, MODE_PEAK, MODES,
                                    bench_modes, setup_modes, time_modes)
from hdr_mm.deploy.auto import decide_runtime, describe_path, machine_facts


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


def test_every_mode_is_a_runtime_of_the_pipeline():
    """The modes' table: graph engines on the CPU only, OpenVINO bf16 only
    where bf16 is native, 'auto' compared with the peak it chooses."""
    assert MODES == tuple(BENCH_MODES)
    assert MODES[:5] == ('eager', 'fp32', 'fp32c', 'bf16', 'ort')
    assert {m for m in MODES if BENCH_MODES[m].cpu_only} == {
        'ort', 'openvino', 'openvino_bf16', 'ort_int8', 'openvino_int8',
        'auto_int8'}
    assert {m for m in MODES if BENCH_MODES[m].int8_graphs} == {
        'ort_int8', 'openvino_int8', 'auto_int8'}
    assert [m for m in MODES if BENCH_MODES[m].native_bf16] == [
        'openvino_bf16']
    assert MODE_PEAK['openvino'] == 'fp32' and MODE_PEAK['auto'] is None
    assert MODE_PEAK['auto_int8'] is None
    assert MODE_PEAK['openvino_bf16'] == MODE_PEAK['bf16'] == 'bf16'
    assert MODE_PEAK['ort_int8'] == MODE_PEAK['openvino_int8'] == 'fp32'


def test_int8_mode_runs_graphs_quantized_for_timing(bench_config):
    """'ort_int8' quantizes the exported graphs on the benchmark's random
    inputs and times the pipeline through them."""
    setups, cfg = setup_modes(bench_config, None, ['ort_int8'],
                              torch.device('cpu'), 1)
    rt = setups['ort_int8'].runtime
    assert (rt.precision, rt.backend) == ('int8', 'onnxruntime')
    assert rt.describe() == 'onnxruntime int8, as asked'
    res = time_modes(setups, cfg, torch.device('cpu'), ['shpe', 'hdr'],
                     [1], 0, 1)
    for stage in ('shpe', 'hdr'):
        assert 'median_ms' in res['ort_int8'][stage][1], stage


@pytest.mark.parametrize('cpu', ['this machine', 'zen4'])
def test_auto_int8_mode_runs_int8_where_it_pays(bench_config, pretend_cpu,
                                                zen4_facts, cpu):
    """'auto_int8' gives 'auto' quantized graphs: on a CPU with VNNI and no
    AMX (an AMD Zen 4's flags) it runs OpenVINO int8; here, what 'auto'
    with quantized graphs decides for this machine."""
    import dataclasses

    from hdr_mm.deploy.auto import MachineFacts
    facts = machine_facts()
    if cpu == 'zen4':
        pytest.importorskip('openvino')
        pretend_cpu(**zen4_facts)
        facts = MachineFacts(**zen4_facts)
    setups, cfg = setup_modes(bench_config, None, ['auto_int8'],
                              torch.device('cpu'), 1)
    rt = setups['auto_int8'].runtime
    choice = decide_runtime(dataclasses.replace(facts, int8_graphs=True))
    assert (rt.precision, rt.backend) == choice.paths[0]
    if cpu == 'zen4':
        assert (rt.precision, rt.backend) == ('int8', 'openvino')
        assert setups['auto_int8'].peak == 'fp32'
    res = time_modes(setups, cfg, torch.device('cpu'), ['shpe'], [1], 0, 1)
    assert 'median_ms' in res['auto_int8']['shpe'][1]


def test_auto_and_openvino_modes(bench_config, capsys):
    """'auto' sets the pipeline up as decide_runtime says for this machine
    and says why; 'openvino' runs the OpenVINO graphs; both are timed."""
    pytest.importorskip('openvino')
    choice = decide_runtime(machine_facts())
    setups, cfg = setup_modes(bench_config, None, ['eager', 'openvino',
                                                   'auto'],
                              torch.device('cpu'), 1)
    auto, ov = setups['auto'].runtime, setups['openvino'].runtime
    assert (auto.precision, auto.backend) == choice.paths[0]
    assert auto.describe().endswith(f'chosen by auto: {choice.reason}')
    assert setups['auto'].peak == ('bf16' if auto.precision == 'bf16' else
                                   'fp32')
    assert (ov.precision, ov.backend) == ('fp32', 'openvino')
    assert ov.describe() == 'OpenVINO fp32, as asked'
    assert setups['eager'].runtime.describe() == \
        'PyTorch fp32 (as built), as asked'
    err = capsys.readouterr().err
    assert f'[auto] runs {auto.describe()}' in err
    res = time_modes(setups, cfg, torch.device('cpu'), ['hasm', 'tdr',
                                                        'shpe', 'hdr'],
                     [1], 0, 1)
    for mode in ('eager', 'openvino', 'auto'):
        for stage in ('hasm', 'tdr', 'shpe', 'hdr'):
            assert 'median_ms' in res[mode][stage][1], (mode, stage)


def test_a_failing_auto_path_falls_back_in_the_benchmark(bench_config,
                                                         monkeypatch):
    """An engine that cannot load the graphs: 'auto' runs the next path
    and its description names the failure."""
    from hdr_mm.deploy import OnnxFileError, graph_backends
    first = decide_runtime(machine_facts()).paths
    if len(first) < 2 or first[0][1] == 'pytorch':
        pytest.skip('no graph engine is the first choice here')
    engine = first[0][1]

    def broken(onnx_file, num_threads, precision):
        raise OnnxFileError(f'{onnx_file}: broken engine')

    monkeypatch.setitem(
        graph_backends.GRAPH_BACKENDS, engine, graph_backends.GraphBackend(
            engine, graph_backends.GRAPH_BACKENDS[engine].precisions,
            broken))
    setups, _ = setup_modes(bench_config, None, ['auto'],
                            torch.device('cpu'), 1)
    rt = setups['auto'].runtime
    assert (rt.precision, rt.backend) == first[1]
    assert f'{describe_path(first[0])} failed to load or compile ' \
        '(OnnxFileError: ' in rt.describe()
    assert rt.describe().endswith(f'running {describe_path(first[1])}')
