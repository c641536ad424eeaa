"""cpu_info: the CPU's name, ISA flags and torch's view of it."""
import torch

from hdr_mm.utils import CPU_ISA_FLAGS, cpu_info, cpu_line


def test_from_a_cpuinfo_file(tmp_path):
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


def test_without_cpuinfo(tmp_path):
    info = cpu_info(str(tmp_path / 'missing'))
    assert info['model'] and info['isa'] == []
    assert 'none of ' + '/'.join(CPU_ISA_FLAGS) in cpu_line(info)
