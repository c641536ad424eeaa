"""What the CPU is, for reports whose timings depend on it."""
import os
import platform
from typing import Any, Dict, List, Tuple

#: the CPU flags that decide how fast the networks run on CPU (bf16 and
#: int8 matrix units, the vector widths oneDNN picks its kernels for)
CPU_ISA_FLAGS = ('amx_bf16', 'avx512_bf16', 'avx512_vnni', 'avx_vnni',
                 'avx512f', 'avx2')


#: environment variables that make torch, oneDNN and MKL use a narrower
#: ISA than the CPU has (e.g. to time an AVX2-only CPU's kernels on a
#: newer one); a report shows them beside the CPU
ISA_LIMIT_VARS = ('ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA',
                  'DNNL_MAX_CPU_ISA', 'MKL_ENABLE_INSTRUCTIONS')


def _cpuinfo(path: str = '/proc/cpuinfo') -> Tuple[str, List[str]]:
    """The first processor's model name and flags in ``path`` (empty when
    it cannot be read, e.g. not on Linux)."""
    name, flags = '', []
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key == 'model name' and not name:
                    name = value.strip()
                elif key == 'flags' and not flags:
                    flags = value.split()
                if name and flags:
                    break
    except OSError:
        pass
    return name, flags


def cpu_info(cpuinfo_path: str = '/proc/cpuinfo') -> Dict[str, Any]:
    """The CPU a run used.

    Args:
        cpuinfo_path: Where the kernel describes the CPU.

    Returns:
        dict: ``model`` (the CPU's model name; the platform's processor
        name where ``/proc/cpuinfo`` is missing), ``isa`` (those of
        :data:`CPU_ISA_FLAGS` it has), ``capability`` (torch's
        ``torch.backends.cpu.get_cpu_capability()``, the vector ISA its
        kernels use), ``threads`` (torch's intra-op threads),
        ``cores`` (the cores this process may run on) and ``isa_limits``
        (those of :data:`ISA_LIMIT_VARS` set in the environment, name ->
        value).
    """
    import torch
    name, flags = _cpuinfo(cpuinfo_path)
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # torch < 2.0
        capability = 'unknown'
    cores = (len(os.sched_getaffinity(0))
             if hasattr(os, 'sched_getaffinity') else os.cpu_count())
    return dict(
        model=name or platform.processor() or platform.machine(),
        isa=[f for f in CPU_ISA_FLAGS if f in flags],
        capability=capability,
        threads=torch.get_num_threads(),
        cores=cores,
        isa_limits={k: os.environ[k]
                    for k in ISA_LIMIT_VARS if os.environ.get(k)})


def cpu_line(info: Dict[str, Any]) -> str:
    """:func:`cpu_info` on one line, for logs and reports."""
    isa = ' '.join(info['isa']) or 'none of ' + '/'.join(CPU_ISA_FLAGS)
    line = (f'{info["model"]}; ISA {isa}; torch capability '
            f'{info["capability"]}; {info["threads"]} torch threads on '
            f'{info["cores"]} cores')
    limits = info.get('isa_limits')
    if limits:
        line += '; kernels limited by ' + ' '.join(
            f'{k}={v}' for k, v in limits.items())
    return line
