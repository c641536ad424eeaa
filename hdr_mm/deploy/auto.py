"""``precision='auto'`` and ``backend='auto'``: the path for this machine.

:func:`decide_runtime` is pure: given what the machine is
(:class:`MachineFacts`: the CPU's ISA flags, torch's CPU capability,
oneDNN's bf16 support, which graph engines import, where the models
are), it returns the paths to try, best first, and why
(:class:`RuntimeChoice`). :func:`machine_facts` reads those facts here;
:func:`build_auto_runtime` tries the paths in order, each failure to
load or compile logged as a warning that names the backend, and logs the
reason of the choice.

Both ``'auto'`` (CPU models):

===============================  ========================================
CPU                              paths, in order
===============================  ========================================
AMX (``amx_bf16``)               OpenVINO bf16, PyTorch bf16
AVX512-BF16, no AMX              OpenVINO bf16, PyTorch bf16
no native bf16 (AVX2, AVX512     onnxruntime fp32, OpenVINO fp32,
without bf16, VNNI or not;       PyTorch fp32 (prepared)
older CPUs likewise)
===============================  ========================================

A path whose engine does not import is left out (no OpenVINO on a bf16
CPU: PyTorch bf16). PyTorch bf16 is never chosen by ``'auto'`` on a CPU
without native bf16: emulated there, it is 5-48x slower than fp32
(issue 20's measurements). PyTorch is always the last path: preparing
its networks changes them in place, so nothing is tried after it.

The orders follow the measurements in ``docs/benchmark.md`` and issue
20: with native bf16 (AMD Zen 4), OpenVINO bf16 ran the three networks
in 0.81 s against 1.28 s for PyTorch bf16 and 1.93 s for onnxruntime
fp32; OpenVINO fp32 was 2-9 % faster than onnxruntime per stage there.
With AMX (Intel Xeon), OpenVINO bf16 was the fastest path end to end as
well, ahead of PyTorch bf16 and of int8 in either engine. On AVX2 only
(Zen 3) onnxruntime fp32 was the fastest path measured (1.48x eager);
OpenVINO fp32 was not measured there, so it comes second.

One of the two ``'auto'`` with the other named:

- ``precision='auto'`` with a named backend: bf16 where the CPU has
  native bf16 and the backend runs bf16 (PyTorch, OpenVINO), else fp32;
- ``backend='auto'`` with a named precision: for fp32 (or None) the fp32
  order of the CPU (OpenVINO first where the CPU has native bf16,
  onnxruntime first elsewhere), then PyTorch; for bf16, OpenVINO then
  PyTorch where bf16 is native, PyTorch alone elsewhere (bf16 was asked
  for; PyTorch warns that it is emulated).

Models on a GPU: the ISA says nothing there; ``'auto'`` is PyTorch fp32.
"""
import logging
from dataclasses import dataclass
from typing import (Callable, FrozenSet, List, Optional, Sequence, Tuple,
                    TypeVar)

from mmengine.logging import print_log

from .graph_backends import GRAPH_BACKENDS, installed_graph_backends

#: the value that leaves precision or backend to the machine
AUTO = 'auto'
#: a precision (None: as built) and a backend
Path = Tuple[Optional[str], str]
#: what a failed path may raise and still be fallen back from: the
#: engine missing (ImportError), a graph it cannot read (OnnxFileError,
#: a ValueError) or compile (RuntimeError), the export folder (OSError),
#: an SHPE head the graphs cannot serve (ValueError)
FALLBACK_ERRORS = (ImportError, OSError, RuntimeError, ValueError)

#: native bf16 kind -> how the reason names the CPU
_BF16_CPUS = {
    'amx': 'a CPU with native bf16 (AMX)',
    'avx512_bf16': 'a CPU with native bf16 (AVX512-BF16, no AMX)',
    None: 'a CPU without native bf16',
}
#: how the reason names a precision
_PRECISION_NAMES = {None: 'fp32 (as built)', 'fp32': 'fp32', 'bf16': 'bf16'}
#: the fp32 graph engines in order of preference, by native bf16 or not
#: (see the module docstring for the measurements behind them)
FP32_ORDER = {
    True: ('openvino', 'onnxruntime'),
    False: ('onnxruntime', 'openvino'),
}
#: how the reason names a backend
_NAMES = dict(pytorch='PyTorch', onnxruntime='onnxruntime',
              openvino='OpenVINO')

R = TypeVar('R')


@dataclass(frozen=True)
class MachineFacts:
    """What the choice depends on (see :func:`machine_facts`).

    Attributes:
        flags: The CPU's ISA flags among
            :data:`~hdr_mm.utils.CPU_ISA_FLAGS` (``amx_bf16``,
            ``avx512_bf16``, ``avx512_vnni``, ``avx_vnni``, ``avx512f``,
            ``avx2``), from ``/proc/cpuinfo``.
        capability: ``torch.backends.cpu.get_cpu_capability()`` (e.g.
            ``'AVX2'``, ``'AVX512'``, ``'DEFAULT'``).
        onednn_bf16: oneDNN's native bf16 as torch reports it
            (:func:`~hdr_mm.models.utils.cpu_bf16_isa`): ``'amx'``,
            ``'avx512_bf16'`` or ``'none'``.
        backends: The graph backends whose package imports (keys of
            :data:`~hdr_mm.deploy.graph_backends.GRAPH_BACKENDS`).
        device_type: Where the models are, ``'cpu'`` or ``'cuda'``.
    """

    flags: FrozenSet[str] = frozenset()
    capability: str = 'DEFAULT'
    onednn_bf16: str = 'none'
    backends: FrozenSet[str] = frozenset()
    device_type: str = 'cpu'

    @property
    def native_bf16(self) -> Optional[str]:
        """``'amx'``, ``'avx512_bf16'`` or None: the CPU's native bf16,
        from its flags or oneDNN (either suffices)."""
        if 'amx_bf16' in self.flags or self.onednn_bf16 == 'amx':
            return 'amx'
        if 'avx512_bf16' in self.flags or \
                self.onednn_bf16 == 'avx512_bf16':
            return 'avx512_bf16'
        return None

    def describe(self) -> str:
        """The CPU in a few words, e.g. ``'a CPU without native bf16
        [ISA avx2; torch capability AVX2]'``."""
        isa = ' '.join(sorted(self.flags)) or 'none of the listed'
        return (f'{_BF16_CPUS[self.native_bf16]} [ISA {isa}; torch '
                f'capability {self.capability}]')


@dataclass(frozen=True)
class RuntimeChoice:
    """The paths to try, best first, and why.

    Attributes:
        paths: ``(precision, backend)`` pairs; the first that builds is
            used.
        reason: One or two sentences for the log.
    """

    paths: Tuple[Path, ...]
    reason: str

    @property
    def precision(self) -> Optional[str]:
        """The first path's precision."""
        return self.paths[0][0]

    @property
    def backend(self) -> str:
        """The first path's backend."""
        return self.paths[0][1]


def describe_path(path: Path) -> str:
    """``('bf16', 'openvino')`` -> ``'OpenVINO bf16'``."""
    precision, backend = path
    return (f'{_NAMES.get(backend, backend)} '
            f'{_PRECISION_NAMES.get(precision, precision)}')


def _runs_bf16(backend: str) -> bool:
    """Whether a backend runs bf16 (PyTorch does, graph engines by their
    registry entry)."""
    return backend == 'pytorch' or \
        'bf16' in GRAPH_BACKENDS[backend].precisions


def _auto_paths(facts: MachineFacts, precision: Optional[str]
                ) -> Tuple[List[Path], str]:
    """``backend='auto'``: every candidate path, installed or not, and
    why (precision ``'auto'``, None, ``'fp32'`` or ``'bf16'``)."""
    native = facts.native_bf16 is not None
    if native and precision in (AUTO, 'bf16'):
        return ([('bf16', 'openvino'), ('bf16', 'pytorch')],
                'bf16 runs natively here, 2-5x faster than fp32; '
                'OpenVINO bf16 was the fastest path measured on such a CPU')
    if precision == 'bf16':
        return ([('bf16', 'pytorch')],
                'bf16 was asked for, and only PyTorch runs it on a CPU '
                'without native bf16 (emulated: slower than fp32)')
    fp32 = 'fp32' if precision == AUTO else precision
    why = ('fp32 was asked for' if precision != AUTO else
           'bf16 would be emulated here, 5-48x slower than fp32')
    order = FP32_ORDER[native]
    return ([(fp32, b) for b in order] + [(fp32, 'pytorch')],
            f'{why}; fp32 engines in order {", ".join(order)} (the fastest '
            f'measured first), then PyTorch')


def decide_runtime(facts: MachineFacts,
                   precision: Optional[str] = AUTO,
                   backend: str = AUTO) -> RuntimeChoice:
    """The paths for ``precision`` and ``backend``, either or both
    ``'auto'``, on the machine ``facts`` describe (pure: reads nothing
    else).

    Args:
        facts: What the machine is.
        precision: ``'auto'``, None, ``'fp32'`` or ``'bf16'``.
        backend: ``'auto'`` or a backend name.

    Returns:
        RuntimeChoice: one path when the backend is named; with
        ``backend='auto'``, every installed candidate in order, PyTorch
        last (see the module docstring's table).

    Raises:
        ValueError: neither is ``'auto'``.
    """
    if AUTO not in (precision, backend):
        raise ValueError(f"decide_runtime: neither precision ({precision!r})"
                         f" nor backend ({backend!r}) is 'auto'")
    if facts.device_type != 'cpu':
        path = ('fp32' if precision == AUTO else precision,
                'pytorch' if backend == AUTO else backend)
        return RuntimeChoice(
            (path, ), f'models on {facts.device_type}: the CPU ISA does not '
            f'apply; {describe_path(path)}')
    if backend != AUTO:
        bf16 = facts.native_bf16 is not None and _runs_bf16(backend)
        path = ('bf16' if bf16 else 'fp32', backend)
        why = ('bf16 runs natively here' if bf16 else
               'bf16 is not native here' if facts.native_bf16 is None else
               f'{backend} runs fp32 only')
        return RuntimeChoice(
            (path, ), f'{facts.describe()}: {why}; {describe_path(path)}')
    candidates, why = _auto_paths(facts, precision)
    paths = tuple(p for p in candidates
                  if p[1] == 'pytorch' or p[1] in facts.backends)
    missing = sorted({b for _, b in candidates} - {b for _, b in paths})
    reason = (f'{facts.describe()}: {why}; chosen '
              f'{describe_path(paths[0])}')
    if len(paths) > 1:
        reason += ', falling back to ' + ', then '.join(
            describe_path(p) for p in paths[1:])
    if missing:
        reason += f' ({", ".join(missing)} not installed)'
    return RuntimeChoice(paths, reason)


def machine_facts(device_type: str = 'cpu') -> MachineFacts:
    """The facts of this machine (reads ``/proc/cpuinfo``, asks torch and
    tries to import the graph engines).

    Args:
        device_type: Where the models are.

    Returns:
        MachineFacts
    """
    from hdr_mm.models.utils import cpu_bf16_isa
    from hdr_mm.utils import cpu_info
    info = cpu_info()
    return MachineFacts(
        flags=frozenset(info['isa']),
        capability=info['capability'],
        onednn_bf16=cpu_bf16_isa(),
        backends=installed_graph_backends(),
        device_type=device_type)


def first_that_builds(build: Callable[[Optional[str], str], R],
                      paths: Sequence[Path]) -> Tuple[R, Path, List[str]]:
    """Build the first path that loads and compiles.

    Args:
        build: ``(precision, backend) -> runtime``.
        paths: The paths, best first.

    Returns:
        tuple: what ``build`` returned, the path it was built for, and
        one line per path that failed before it.

    Raises:
        Exception: the last path's error, when every path failed.
    """
    failures: List[str] = []
    for i, path in enumerate(paths):
        try:
            return build(*path), path, failures
        except FALLBACK_ERRORS as e:
            if i + 1 == len(paths):
                raise
            failures.append(f'{describe_path(path)} failed to load or '
                            f'compile ({type(e).__name__}: {e})')
            print_log(
                f'runtime auto: {failures[-1]}; falling back to '
                f'{describe_path(paths[i + 1])}',
                logger='current',
                level=logging.WARNING)
    raise ValueError('first_that_builds: no paths')


def build_auto_runtime(build: Callable[[Optional[str], str], R],
                       precision: Optional[str],
                       backend: str,
                       facts: Optional[MachineFacts] = None) -> R:
    """Decide the path for this machine, log why, and build it.

    Args:
        build: ``(precision, backend) -> StageRuntime`` for a concrete
            pair (``hdr_mm.models.hdr.runtime.build_runtime``).
        precision: ``'auto'``, None, ``'fp32'`` or ``'bf16'``.
        backend: ``'auto'`` or a backend name.
        facts: The machine; None: :func:`machine_facts` (CPU).

    Returns:
        The runtime ``build`` returned, with ``reason`` set to the
        choice's reason (and the failures fallen back from).
    """
    choice = decide_runtime(facts or machine_facts(), precision, backend)
    print_log(f'runtime auto: {choice.reason}', logger='current',
              level=logging.INFO)
    runtime, path, failures = first_that_builds(build, choice.paths)
    reason = choice.reason
    if failures:
        reason += f'; {"; ".join(failures)}; running {describe_path(path)}'
    runtime.reason = reason
    return runtime
