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

int8 comes first on a CPU without AMX that has VNNI (``avx512_vnni``
or ``avx_vnni``) or AVX2, when the quantized graphs of every stage are
in ``onnx_dir`` (:func:`~hdr_mm.deploy.int8.int8_graphs_present`: the
user made them for these weights with
``tools/deployment/quantize_int8.py``, which is the opt-in; a graph
quantized from other weights fails to open and is fallen back from):
OpenVINO int8, then onnxruntime int8, with VNNI (AMD Zen 4: 1.12-1.13x
onnxruntime int8 end to end, and within 0.1 mm MPJPE over all frames,
0.4 mm on single-hand ones, 0.001 mIoU and 0.1 dB of eager fp32 on the
main job's networks); onnxruntime int8 alone
on AVX2 without VNNI, where OpenVINO int8 was slower (AMD Zen 3).
Without VNNI the x86 int8 kernels add pairs of 8-bit products in
saturating 16-bit lanes; on AVX2 (AMD Zen 3) the main job's networks
kept the accuracy all the same (``docs/benchmark.md``). Never with AMX,
where bf16 was faster than int8 in both engines, nor on a CPU without
AVX2 (not measured).

A path whose engine does not import is left out (no OpenVINO on a bf16
CPU: PyTorch bf16). PyTorch bf16 is never chosen by ``'auto'`` on a CPU
without native bf16: emulated there, it is 5-48x slower than fp32
(issue 20's measurements). PyTorch is always the last path: preparing
its networks changes them in place, so nothing is tried after it.

The orders follow the measurements in ``docs/benchmark.md`` and issue
20: with native bf16 (AMD Zen 4), OpenVINO bf16 ran the three networks
in 0.81 s against 1.28 s for PyTorch bf16 and 1.93 s for onnxruntime
fp32; OpenVINO fp32 was 2-9 % faster than onnxruntime per stage there,
and int8 (VNNI) ran the paper-size pipeline end to end faster still
(``docs/benchmark.md``). With AMX (Intel
Xeon), OpenVINO bf16 was the fastest path end to end, ahead of PyTorch
bf16 and of int8 in either engine. On AVX2 only (Zen 3) onnxruntime
fp32 was the fastest float path (1.42x eager end to end, OpenVINO fp32
1.31x) and onnxruntime int8 the fastest path (2.12x eager, OpenVINO
int8 2.05x). On the main job's trained networks
onnxruntime int8 stays within 0.3 mm MPJPE, 0.001 mIoU and 0.1 dB of
eager fp32 (Intel Xeon, AMD Zen 3 and Zen 4; ``docs/benchmark.md``,
"Accuracy of each path").

One of the two ``'auto'`` with the other named:

- ``precision='auto'`` with a named backend: int8 first where it pays
  (above) and the backend is a graph engine, then bf16 where the CPU has
  native bf16 and the backend runs bf16 (PyTorch, OpenVINO), else fp32;
- ``backend='auto'`` with a named precision: for fp32 (or None) the fp32
  order of the CPU (OpenVINO first where the CPU has native bf16,
  onnxruntime first elsewhere), then PyTorch; for bf16, OpenVINO then
  PyTorch where bf16 is native, PyTorch alone elsewhere (bf16 was asked
  for; PyTorch warns that it is emulated); for int8, onnxruntime then
  OpenVINO (OpenVINO first with VNNI; PyTorch does not run the
  quantized graphs).

Models on a GPU: the ISA says nothing there; ``'auto'`` is PyTorch fp32
(int8 is refused: the quantized graphs run on the CPU engines).
"""
import logging
from dataclasses import dataclass
from typing import (Callable, FrozenSet, List, Optional, Sequence, Tuple,
                    TypeVar)

from mmengine.logging import print_log

from .graph_backends import GRAPH_BACKENDS, installed_graph_backends
from .int8 import INT8

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
_PRECISION_NAMES = {None: 'fp32 (as built)', 'fp32': 'fp32', 'bf16': 'bf16',
                    INT8: 'int8'}
#: the fp32 graph engines in order of preference, by native bf16 or not
#: (see the module docstring for the measurements behind them)
FP32_ORDER = {
    True: ('openvino', 'onnxruntime'),
    False: ('onnxruntime', 'openvino'),
}
#: the int8 graph engines in order of preference when int8 is asked for,
#: by whether the CPU has VNNI (module docstring)
INT8_ORDER = {
    True: ('openvino', 'onnxruntime'),
    False: ('onnxruntime', 'openvino'),
}
#: the int8 engines ``precision='auto'`` may choose, by VNNI or not: with
#: VNNI all of them, in the order above; without it onnxruntime alone
#: (OpenVINO int8 was slower than onnxruntime int8 on AVX2 alone)
AUTO_INT8_ENGINES = {
    True: INT8_ORDER[True],
    False: ('onnxruntime', ),
}
#: the ISA flags of an int8 dot product (VNNI)
VNNI_FLAGS = frozenset({'avx512_vnni', 'avx_vnni'})
#: the ISA flags under which int8 was measured faster than the float
#: paths (without AMX): VNNI, or AVX2's 8-bit pairs in 16-bit lanes
INT8_FLAGS = VNNI_FLAGS | {'avx2'}
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
        int8_graphs: Whether the quantized graphs of every stage are in
            the models' ``onnx_dir``
            (:func:`~hdr_mm.deploy.int8.int8_graphs_present`).
    """

    flags: FrozenSet[str] = frozenset()
    capability: str = 'DEFAULT'
    onednn_bf16: str = 'none'
    backends: FrozenSet[str] = frozenset()
    device_type: str = 'cpu'
    int8_graphs: bool = False

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

    @property
    def vnni(self) -> bool:
        """Whether the CPU has an int8 dot product (VNNI)."""
        return bool(self.flags & VNNI_FLAGS)

    @property
    def int8_pays(self) -> bool:
        """Whether ``precision='auto'`` puts int8 first: quantized graphs
        at hand and a CPU with VNNI or AVX2 and no AMX (module
        docstring)."""
        return (self.int8_graphs and bool(self.flags & INT8_FLAGS)
                and self.native_bf16 != 'amx')

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


#: why int8 comes first, by VNNI or not
_INT8_WHY = {
    True: ('quantized graphs of every stage are in onnx_dir and the CPU '
           'has VNNI without AMX, where int8 was faster than the float '
           'paths and OpenVINO int8 the fastest (AMD Zen 4)'),
    False: ('quantized graphs of every stage are in onnx_dir and the CPU '
            'has AVX2 without VNNI or AMX, where onnxruntime int8 was '
            'faster than the float paths and than OpenVINO int8 (AMD Zen '
            '3)'),
}
_OPENVINO_INT8_WHY = ('OpenVINO int8 was slower than onnxruntime int8 on '
                      "AVX2 without VNNI; precision='int8' runs it")


def _float_paths(facts: MachineFacts, precision: Optional[str]
                 ) -> Tuple[List[Path], str]:
    """``backend='auto'`` in floating point: every candidate path,
    installed or not, and why (precision ``'auto'``, None, ``'fp32'`` or
    ``'bf16'``)."""
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


def _auto_paths(facts: MachineFacts, precision: Optional[str]
                ) -> Tuple[List[Path], str]:
    """``backend='auto'``: every candidate path, installed or not, and
    why (precision ``'auto'``, None, ``'fp32'``, ``'bf16'`` or
    ``'int8'``)."""
    order = INT8_ORDER[facts.vnni]
    if precision == INT8:
        return ([(INT8, b) for b in order], 'int8 was asked for; '
                f'engines in order {", ".join(order)} (PyTorch does not '
                'run the quantized graphs)')
    paths, why = _float_paths(facts, precision)
    if precision != AUTO:
        return paths, why
    return _int8_first(facts, order, paths, why)


def _int8_first(facts: MachineFacts, engines: Sequence[str],
                paths: List[Path], why: str) -> Tuple[List[Path], str]:
    """``precision='auto'``: int8 on those of ``engines`` that ``'auto'``
    may choose (:data:`AUTO_INT8_ENGINES`) before ``paths`` where it pays
    (:attr:`MachineFacts.int8_pays`); quantized graphs at hand that are
    not run are named in the reason with why.

    Args:
        facts: What the machine is.
        engines: The graph engines that may run int8, in order (none:
            the backend runs no quantized graphs).
        paths: The float paths, in order.
        why: Their reason.

    Returns:
        tuple: the paths and their reason.
    """
    if not engines or not facts.int8_graphs:
        return paths, why
    chosen = [e for e in AUTO_INT8_ENGINES[facts.vnni] if e in engines]
    if facts.int8_pays and chosen:
        return ([(INT8, e) for e in chosen] + paths,
                f'{_INT8_WHY[facts.vnni]}; else {why}')
    if facts.native_bf16 == 'amx':
        unused = 'with AMX, bf16 was faster than int8 in both engines'
    elif not facts.int8_pays:
        unused = ('this CPU has neither VNNI nor AVX2 (int8 not measured '
                  'there)')
    else:  # int8 pays, but only on engines 'auto' leaves out
        unused = _OPENVINO_INT8_WHY
    return paths, f'{why} (the int8 graphs in onnx_dir are not used: ' \
        f'{unused})'


def _named_backend_paths(facts: MachineFacts,
                         backend: str) -> Tuple[List[Path], str]:
    """``precision='auto'`` with ``backend`` named: its paths and why."""
    bf16 = facts.native_bf16 is not None and _runs_bf16(backend)
    paths = [('bf16' if bf16 else 'fp32', backend)]
    why = ('bf16 runs natively here' if bf16 else
           'bf16 is not native here' if facts.native_bf16 is None else
           f'{backend} runs fp32 only')
    engines = (backend, ) if backend in GRAPH_BACKENDS else ()
    return _int8_first(facts, engines, paths, why)


def decide_runtime(facts: MachineFacts,
                   precision: Optional[str] = AUTO,
                   backend: str = AUTO) -> RuntimeChoice:
    """The paths for ``precision`` and ``backend``, either or both
    ``'auto'``, on the machine ``facts`` describe (pure: reads nothing
    else).

    Args:
        facts: What the machine is.
        precision: ``'auto'``, None, ``'fp32'``, ``'bf16'`` or ``'int8'``
            (with ``backend='auto'``).
        backend: ``'auto'`` or a backend name.

    Returns:
        RuntimeChoice: the paths in order (see the module docstring's
        table): with ``backend='auto'``, every installed candidate,
        PyTorch last (int8: the installed graph engines).

    Raises:
        ValueError: neither is ``'auto'``; int8 for models on a GPU, or
            with no graph engine installed.
    """
    if AUTO not in (precision, backend):
        raise ValueError(f"decide_runtime: neither precision ({precision!r})"
                         f" nor backend ({backend!r}) is 'auto'")
    if facts.device_type != 'cpu':
        if precision == INT8:
            raise ValueError(
                f"precision='int8' runs the quantized graphs on the CPU "
                f'graph engines; the models are on {facts.device_type}')
        path = ('fp32' if precision == AUTO else precision,
                'pytorch' if backend == AUTO else backend)
        return RuntimeChoice(
            (path, ), f'models on {facts.device_type}: the CPU ISA does not '
            f'apply; {describe_path(path)}')
    if backend != AUTO:
        paths, why = _named_backend_paths(facts, backend)
        return RuntimeChoice(
            tuple(paths), f'{facts.describe()}: {why}; '
            f'{", else ".join(describe_path(p) for p in paths)}')
    candidates, why = _auto_paths(facts, precision)
    paths = tuple(p for p in candidates
                  if p[1] == 'pytorch' or p[1] in facts.backends)
    missing = sorted({b for _, b in candidates} - {b for _, b in paths})
    if not paths:
        raise ValueError(
            "precision='int8' needs a graph engine, and neither "
            f'{" nor ".join(INT8_ORDER[facts.vnni])} is installed')
    reason = (f'{facts.describe()}: {why}; chosen '
              f'{describe_path(paths[0])}')
    if len(paths) > 1:
        reason += ', falling back to ' + ', then '.join(
            describe_path(p) for p in paths[1:])
    if missing:
        reason += f' ({", ".join(missing)} not installed)'
    return RuntimeChoice(paths, reason)


def machine_facts(device_type: str = 'cpu',
                  int8_graphs: bool = False) -> MachineFacts:
    """The facts of this machine (reads ``/proc/cpuinfo``, asks torch and
    tries to import the graph engines).

    Args:
        device_type: Where the models are.
        int8_graphs: Whether the models' quantized graphs are at hand.

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
        device_type=device_type,
        int8_graphs=int8_graphs)


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
        precision: ``'auto'``, None, ``'fp32'``, ``'bf16'`` or ``'int8'``.
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
