"""cpu_info: the CPU's name, ISA flags and torch's view of it."""
import torch

from hdr_mm.utils import CPU_ISA_FLAGS, cpu_info, cpu_line
from hdr_mm.utils.machine import ISA_LIMIT_VARS


def test_from_a_cpuinfo_file(tmp_path, monkeypatch):
    for var in ISA_LIMIT_VARS:
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / 'cpuinfo'
    path.write_text('processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\n'
                    'flags\t\t: fpu sse avx2 avx512f avx512_vnni amx_tile\n'
                    '\nprocessor\t: 1\nmodel name\t: Other\nflags\t: x\n')
    info = cpu_info(str(path))
    assert info['model'] == 'Some CPU @ 2.0GHz'
    assert info['isa'] == ['avx512_vnni', 'avx512f', 'avx2']  # list order
    assert info['capability'] == torch.backends.cpu.get_cpu_capability()
    assert info['threads'] == torch.get_num_threads()
    assert info['cores'] >= 1
    line = cpu_line(info)
    assert 'Some CPU' in line and 'avx512f' in line
    assert info['isa_limits'] == {} and 'limited' not in line


def test_isa_limits_of_the_environment_are_reported(monkeypatch):
    """A run with its kernels held to AVX2 on a newer CPU says so."""
    for var in ISA_LIMIT_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX2')
    monkeypatch.setenv('MKL_ENABLE_INSTRUCTIONS', 'AVX2')
    info = cpu_info()
    assert info['isa_limits'] == dict(ONEDNN_MAX_CPU_ISA='AVX2',
                                      MKL_ENABLE_INSTRUCTIONS='AVX2')
    assert cpu_line(info).endswith(
        '; kernels limited by ONEDNN_MAX_CPU_ISA=AVX2 '
        'MKL_ENABLE_INSTRUCTIONS=AVX2')


def test_without_cpuinfo(tmp_path):
    info = cpu_info(str(tmp_path / 'missing'))
    assert info['model'] and info['isa'] == []
    assert 'none of ' + '/'.join(CPU_ISA_FLAGS) in cpu_line(info)
