"""precision='auto' / backend='auto': the decision for each kind of CPU
(pure, from the ISA facts), the fallback when a path fails, and the
facts of this machine."""
import dataclasses
import logging

import pytest

from hdr_mm.deploy import auto
from hdr_mm.deploy.auto import (MachineFacts, build_auto_runtime,
                                decide_runtime, describe_path,
                                first_that_builds, machine_facts)
from hdr_mm.deploy.graph_backends import (GRAPH_BACKENDS,
                                          check_graph_precision,
                                          installed_graph_backends)
from hdr_mm.models.hdr.runtime import STAGE_BACKENDS

BOTH = frozenset({'onnxruntime', 'openvino'})
#: the kinds of CPU (flags as /proc/cpuinfo lists them, torch's
#: capability, oneDNN's bf16), both engines installed
AMX = MachineFacts(
    frozenset({'amx_bf16', 'avx512_bf16', 'avx512_vnni', 'avx512f',
               'avx2'}), 'AVX512', 'amx', BOTH)
ZEN4 = MachineFacts(
    frozenset({'avx512_bf16', 'avx512_vnni', 'avx512f', 'avx2'}), 'AVX512',
    'avx512_bf16', BOTH)
AVX2 = MachineFacts(frozenset({'avx2'}), 'AVX2', 'none', BOTH)
AVX512_VNNI = MachineFacts(frozenset({'avx512_vnni', 'avx512f', 'avx2'}),
                           'AVX512', 'none', BOTH)
OLD = MachineFacts(frozenset(), 'DEFAULT', 'none', BOTH)


ALDER_LAKE = MachineFacts(frozenset({'avx_vnni', 'avx2'}), 'AVX2', 'none',
                          BOTH)


def _without(facts, *missing):
    return dataclasses.replace(facts, backends=facts.backends - set(missing))


def _int8(facts):
    """The same machine with the quantized graphs in onnx_dir."""
    return dataclasses.replace(facts, int8_graphs=True)


@pytest.mark.parametrize('facts, paths', [
    (AMX, [('bf16', 'openvino'), ('bf16', 'pytorch')]),
    (ZEN4, [('bf16', 'openvino'), ('bf16', 'pytorch')]),
    (AVX2, [('fp32', 'onnxruntime'), ('fp32', 'openvino'),
            ('fp32', 'pytorch')]),
    (AVX512_VNNI, [('fp32', 'onnxruntime'), ('fp32', 'openvino'),
                   ('fp32', 'pytorch')]),
    (OLD, [('fp32', 'onnxruntime'), ('fp32', 'openvino'),
           ('fp32', 'pytorch')]),
    # openvino missing
    (_without(AMX, 'openvino'), [('bf16', 'pytorch')]),
    (_without(ZEN4, 'openvino'), [('bf16', 'pytorch')]),
    (_without(AVX2, 'openvino'), [('fp32', 'onnxruntime'),
                                  ('fp32', 'pytorch')]),
    (_without(AVX2, 'onnxruntime'), [('fp32', 'openvino'),
                                     ('fp32', 'pytorch')]),
    (_without(AVX2, 'onnxruntime', 'openvino'), [('fp32', 'pytorch')]),
], ids=['amx', 'avx512_bf16', 'avx2', 'avx512_vnni_no_bf16', 'no_avx2',
        'amx_no_openvino', 'avx512_bf16_no_openvino', 'avx2_no_openvino',
        'avx2_no_onnxruntime', 'avx2_no_engine'])
def test_both_auto_per_cpu(facts, paths):
    choice = decide_runtime(facts, 'auto', 'auto')
    assert list(choice.paths) == paths
    assert (choice.precision, choice.backend) == paths[0]
    assert choice.reason.startswith(facts.describe() + ': ')
    assert f'chosen {describe_path(paths[0])}' in choice.reason
    # never PyTorch bf16 where bf16 is emulated; PyTorch always last
    if facts.native_bf16 is None:
        assert all(p == 'fp32' for p, _ in choice.paths)
    assert [b for _, b in choice.paths].index('pytorch') == len(paths) - 1


INT8_PATHS = [('int8', 'onnxruntime'), ('int8', 'openvino')]
#: what precision='auto' runs in int8: OpenVINO first with VNNI,
#: onnxruntime alone without it
VNNI_INT8 = [('int8', 'openvino'), ('int8', 'onnxruntime')]
AVX2_INT8 = [('int8', 'onnxruntime')]
FP32_PATHS = [('fp32', 'onnxruntime'), ('fp32', 'openvino'),
              ('fp32', 'pytorch')]


@pytest.mark.parametrize('facts, paths', [
    # VNNI, no AMX: OpenVINO int8, then onnxruntime int8, first (OpenVINO
    # int8 the fastest on Zen 4)
    (_int8(ZEN4), VNNI_INT8 + [('bf16', 'openvino'), ('bf16', 'pytorch')]),
    (_int8(AVX512_VNNI), VNNI_INT8 + FP32_PATHS),
    (_int8(ALDER_LAKE), VNNI_INT8 + FP32_PATHS),
    (_int8(_without(ZEN4, 'openvino')), [('int8', 'onnxruntime'),
                                         ('bf16', 'pytorch')]),
    # AVX2 without VNNI: onnxruntime int8 first (faster than the float
    # paths and than OpenVINO int8 on Zen 3)
    (_int8(AVX2), AVX2_INT8 + FP32_PATHS),
    (_int8(_without(AVX2, 'onnxruntime')), [('fp32', 'openvino'),
                                            ('fp32', 'pytorch')]),
    # AMX: bf16 was faster than int8; no AVX2: int8 not measured
    (_int8(AMX), [('bf16', 'openvino'), ('bf16', 'pytorch')]),
    (_int8(OLD), FP32_PATHS),
    # no quantized graphs: as without int8
    (ALDER_LAKE, FP32_PATHS),
    (AVX2, FP32_PATHS),
], ids=['avx512_bf16', 'avx512_vnni_no_bf16', 'avx_vnni',
        'avx512_bf16_no_openvino', 'avx2', 'avx2_no_onnxruntime', 'amx',
        'no_avx2', 'avx_vnni_no_graphs', 'avx2_no_graphs'])
def test_int8_first_where_it_pays_and_the_graphs_are_there(facts, paths):
    choice = decide_runtime(facts, 'auto', 'auto')
    assert list(choice.paths) == paths
    if paths[0][0] == 'int8':
        assert facts.int8_pays
    if facts.int8_pays:  # (an engine not installed is named at the end)
        assert choice.reason.startswith(
            f'{facts.describe()}: quantized graphs of every stage are in '
            'onnx_dir and the CPU has ' + (
                'VNNI without AMX, where int8 was faster than the float '
                'paths and OpenVINO int8 the fastest (AMD Zen 4); else '
                if facts.vnni else
                'AVX2 without VNNI or AMX, where onnxruntime int8 was faster '
                'than the float paths and than OpenVINO int8 (AMD Zen 3); '
                'else '))
    elif facts.int8_graphs:  # the reason says why they are left unused
        assert ('(the int8 graphs in onnx_dir are not used: ' + (
                'with AMX, bf16 was faster than int8 in both engines)'
                if facts.native_bf16 == 'amx' else
                'this CPU has neither VNNI nor AVX2 (int8 not measured '
                'there))')) in choice.reason
    else:
        assert 'int8' not in choice.reason


def test_int8_with_a_named_backend_or_asked_for():
    zen4 = _int8(ZEN4)
    # OpenVINO named: its int8 first where the CPU has VNNI, not on AVX2
    # alone (slower there than onnxruntime int8)
    assert decide_runtime(zen4, 'auto', 'openvino').paths == (
        ('int8', 'openvino'), ('bf16', 'openvino'))
    named = decide_runtime(_int8(AVX2), 'auto', 'openvino')
    assert named.paths == (('fp32', 'openvino'), )
    assert '(the int8 graphs in onnx_dir are not used: OpenVINO int8 ' \
        'was slower than onnxruntime int8 on AVX2 without VNNI; ' \
        "precision='int8' runs it)" in named.reason
    assert decide_runtime(_int8(AVX512_VNNI), 'auto', 'onnxruntime'
                          ).paths == (('int8', 'onnxruntime'),
                                      ('fp32', 'onnxruntime'))
    assert decide_runtime(zen4, 'auto', 'pytorch').paths == (
        ('bf16', 'pytorch'), )
    # int8 asked for: the graph engines, whatever the CPU, never PyTorch;
    # OpenVINO first with VNNI
    for facts in (AVX2, AMX, zen4):
        choice = decide_runtime(facts, 'int8', 'auto')
        assert list(choice.paths) == (VNNI_INT8 if facts.vnni else
                                      INT8_PATHS)
        assert 'int8 was asked for' in choice.reason
    assert decide_runtime(_without(AVX2, 'openvino'), 'int8').paths == (
        ('int8', 'onnxruntime'), )
    with pytest.raises(ValueError, match="precision='int8' needs a graph "
                       'engine, and neither onnxruntime nor openvino is '
                       'installed'):
        decide_runtime(_without(AVX2, 'openvino', 'onnxruntime'), 'int8')
    gpu = dataclasses.replace(zen4, device_type='cuda')
    with pytest.raises(ValueError, match='the models are on cuda'):
        decide_runtime(gpu, 'int8')
    assert decide_runtime(gpu).paths == (('fp32', 'pytorch'), )


def test_reasons_name_the_cpu_and_what_is_missing():
    amx = decide_runtime(AMX).reason
    assert amx.startswith('a CPU with native bf16 (AMX) [ISA amx_bf16 ')
    assert 'chosen OpenVINO bf16, falling back to PyTorch bf16' in amx
    zen4 = decide_runtime(_without(ZEN4, 'openvino')).reason
    assert zen4.startswith('a CPU with native bf16 (AVX512-BF16, no AMX)')
    assert zen4.endswith('chosen PyTorch bf16 (openvino not installed)')
    avx2 = decide_runtime(AVX2).reason
    assert avx2.startswith('a CPU without native bf16 [ISA avx2; torch '
                           'capability AVX2]: bf16 would be emulated here, '
                           '5-48x slower than fp32')
    assert avx2.endswith('chosen onnxruntime fp32, falling back to '
                         'OpenVINO fp32, then PyTorch fp32')


def test_native_bf16_from_flags_or_onednn():
    assert MachineFacts(onednn_bf16='amx').native_bf16 == 'amx'
    assert MachineFacts(frozenset({'avx512_bf16'})).native_bf16 == \
        'avx512_bf16'
    assert MachineFacts(onednn_bf16='avx512_bf16').native_bf16 == \
        'avx512_bf16'
    assert MachineFacts(frozenset({'avx2', 'avx_vnni'})).native_bf16 is None


@pytest.mark.parametrize('facts, backend, precision', [
    (AMX, 'pytorch', 'bf16'), (AMX, 'openvino', 'bf16'),
    (AMX, 'onnxruntime', 'fp32'), (ZEN4, 'pytorch', 'bf16'),
    (AVX2, 'pytorch', 'fp32'), (AVX2, 'openvino', 'fp32'),
    (AVX2, 'onnxruntime', 'fp32'),
])
def test_auto_precision_for_a_named_backend(facts, backend, precision):
    choice = decide_runtime(facts, 'auto', backend)
    assert choice.paths == ((precision, backend), )


@pytest.mark.parametrize('facts, precision, paths', [
    (AVX2, 'fp32', [('fp32', 'onnxruntime'), ('fp32', 'openvino'),
                    ('fp32', 'pytorch')]),
    (AVX2, None, [(None, 'onnxruntime'), (None, 'openvino'),
                  (None, 'pytorch')]),
    (AMX, 'fp32', [('fp32', 'openvino'), ('fp32', 'onnxruntime'),
                   ('fp32', 'pytorch')]),
    (ZEN4, 'bf16', [('bf16', 'openvino'), ('bf16', 'pytorch')]),
    # bf16 asked for where it is emulated: only PyTorch runs it
    (AVX2, 'bf16', [('bf16', 'pytorch')]),
])
def test_auto_backend_for_a_named_precision(facts, precision, paths):
    assert list(decide_runtime(facts, precision, 'auto').paths) == paths


def test_models_on_a_gpu_and_nothing_auto():
    gpu = MachineFacts(AMX.flags, 'AVX512', 'amx', BOTH, 'cuda')
    choice = decide_runtime(gpu)
    assert choice.paths == (('fp32', 'pytorch'), )
    assert choice.reason.startswith('models on cuda')
    assert decide_runtime(gpu, 'bf16', 'auto').paths == (('bf16', 'pytorch'),
                                                         )
    with pytest.raises(ValueError, match="neither precision"):
        decide_runtime(AVX2, 'fp32', 'pytorch')


class _Runtime:
    reason = None

    def __init__(self, precision, backend):
        self.precision, self.backend = precision, backend


def test_a_failing_path_falls_back_with_a_warning(monkeypatch):
    logs = []
    monkeypatch.setattr(auto, 'print_log',
                        lambda msg, logger, level: logs.append((level, msg)))

    def build(precision, backend):
        if backend == 'onnxruntime':
            raise RuntimeError('cannot create a session')
        return _Runtime(precision, backend)

    rt = build_auto_runtime(build, 'auto', 'auto', AVX2)
    assert (rt.precision, rt.backend) == ('fp32', 'openvino')
    assert logs[0] == (logging.INFO,
                       f'runtime auto: {decide_runtime(AVX2).reason}')
    assert logs[1] == (
        logging.WARNING,
        'runtime auto: onnxruntime fp32 failed to load or compile '
        '(RuntimeError: cannot create a session); falling back to '
        'OpenVINO fp32')
    assert rt.reason.endswith('; onnxruntime fp32 failed to load or compile '
                              '(RuntimeError: cannot create a session); '
                              'running OpenVINO fp32')


def test_the_last_path_failing_raises():
    def build(precision, backend):
        raise ImportError(f'no {backend}')

    with pytest.raises(ImportError, match='no pytorch'):
        first_that_builds(build, decide_runtime(AVX2).paths)
    # an error that is no load or compile failure is not fallen back from
    with pytest.raises(KeyError):
        first_that_builds(lambda p, b: {}[b], decide_runtime(AVX2).paths)


def test_this_machine():
    facts = machine_facts()
    assert facts.device_type == 'cpu'
    assert facts.backends == installed_graph_backends() <= set(
        GRAPH_BACKENDS)
    choice = decide_runtime(facts)
    assert choice.paths[-1][1] == 'pytorch'
    if facts.native_bf16 is None:
        assert choice.precision == 'fp32'


def test_registry_and_runtime_agree():
    # every graph engine is a registered pipeline backend, and no other
    assert set(STAGE_BACKENDS.module_dict) == {'pytorch'} | set(
        GRAPH_BACKENDS)
    check_graph_precision('openvino', 'bf16')
    check_graph_precision('onnxruntime', None)
    check_graph_precision('onnxruntime', 'int8')
    with pytest.raises(ValueError,
                       match="backend='onnxruntime' runs the float32 graphs "
                       "in fp32 only \\(and the quantized ones in int8\\): "
                       "use precision='fp32' or 'int8' \\(or None\\)"):
        check_graph_precision('onnxruntime', 'bf16')
