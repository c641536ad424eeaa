"""hdr_mm.benchmark.machine: the machine line and the GEMM peak (the file
name differs from the module's: tests/test_utils/test_machine.py has it)."""
import torch

from hdr_mm.benchmark.machine import gemm_peak, machine_line
from hdr_mm.utils import cpu_info


def test_machine_line():
    info = machine_line(torch.device('cpu'))
    cpu = cpu_info()
    assert list(info)[:5] == ['cpu', 'usable_cores', 'torch_threads',
                              'cpu_capability', 'bf16_isa']
    assert info['cpu'] == cpu['model'] and info['usable_cores'] == cpu[
        'cores']
    assert info['bf16_isa'] in ('amx', 'avx512_bf16', 'none')
    assert 'PyTorch' in info and 'gpu' not in info


def test_gemm_peak():
    peak = gemm_peak(torch.float32, torch.device('cpu'), min_time_s=0.0,
                     max_size=256)
    assert peak['size'] == 256 and peak['gflops'] > 0
    assert peak['kernel'] in ('mm', 'conv1x1')
