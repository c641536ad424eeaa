"""hdr_mm.benchmark.cli: the command's argument parsing (its main path
runs in tests/test_tools/test_benchmark.py)."""
import argparse

import pytest

from hdr_mm.benchmark.cli import (DEFAULT_CONFIG, parse_args, parse_int_list,
                                  parse_modes, parse_stages)


def test_parse_int_list():
    assert parse_int_list('1,2, 4') == [1, 2, 4]
    for bad in ('', '0,1', 'a', '1,-2'):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_int_list(bad)


def test_parse_stages_and_modes_keep_order():
    assert parse_stages('hdr,hasm,tdr') == ['hasm', 'tdr', 'hdr']
    with pytest.raises(argparse.ArgumentTypeError, match='hdrm'):
        parse_stages('hasm,hdrm')
    assert parse_modes('ort,bf16,eager') == ['eager', 'bf16', 'ort']
    assert parse_modes('openvino,auto,eager,ort') == [
        'eager', 'ort', 'openvino', 'auto']
    with pytest.raises(argparse.ArgumentTypeError, match='fp16'):
        parse_modes('fp16')


def test_parse_args_defaults():
    args = parse_args([])
    assert args.config == DEFAULT_CONFIG and args.modes == ['eager']
    assert args.stages == ['hasm', 'tdr', 'shpe', 'hdr']
    assert (args.num_iters, args.warmup, args.batch_sizes) == (10, 2, [1])


@pytest.mark.parametrize('argv, message', [
    (['--num-iters', '0'], '--num-iters must be >= 1'),
    (['--threads', '0'], '--threads must be >= 1'),
    (['--device', 'mps'], 'only cpu and cuda'),
    (['--modes', 'fp32c', '--warmup', '0'], 'compiles during the warm-up'),
])
def test_parse_args_refuses(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err


def test_graph_modes_refused_on_cuda(monkeypatch, capsys):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    with pytest.raises(SystemExit):
        parse_args(['--device', 'cuda', '--modes', 'eager,ort,openvino,auto'])
    assert '--modes ort,openvino: runs on the CPU only' in \
        capsys.readouterr().err
    assert parse_args(['--device', 'cuda', '--modes', 'auto']).modes == [
        'auto']


def test_openvino_bf16_only_where_bf16_is_native(monkeypatch, capsys):
    """Elsewhere OpenVINO would compile f32: the column would lie."""
    from hdr_mm.deploy import auto
    from hdr_mm.deploy.auto import MachineFacts
    avx2 = MachineFacts(frozenset({'avx2'}), 'AVX2', 'none')
    monkeypatch.setattr(auto, 'machine_facts', lambda device_type: avx2)
    with pytest.raises(SystemExit):
        parse_args(['--modes', 'openvino_bf16'])
    err = capsys.readouterr().err
    assert ('--modes openvino_bf16: bf16 needs a CPU with native bf16 (AMX '
            f'or AVX512-BF16), this is {avx2.describe()}') in err
    zen4 = MachineFacts(frozenset({'avx512_bf16'}), 'AVX512', 'avx512_bf16')
    monkeypatch.setattr(auto, 'machine_facts', lambda device_type: zen4)
    assert parse_args(['--modes', 'openvino_bf16']).modes == [
        'openvino_bf16']
