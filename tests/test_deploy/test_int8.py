"""int8 quantization of the tiny stage graphs (random weights) and the
int8 precision of the graph backends.

Tolerance: each output of a quantized graph is compared with the float32
graph on the calibration inputs by its relative L2 error,
``||int8 - fp32|| / ||fp32||``. On these networks the exact QDQ
arithmetic (onnxruntime with its graph optimizations off, which runs
every QuantizeLinear/DequantizeLinear as written) is 4-5 % away from
float32: that is the quantization noise itself, with 8-bit activations
over dozens of layers. onnxruntime's fused int8 kernels and OpenVINO
land within 3.5-5 % of float32 (measured). The tests allow 15 %, ~3x
that, for other CPUs' kernels: they catch gross errors (a wrong scale,
a wrong operator), not small accuracy losses, which the islands test
and, for the trained networks, an evaluation are for. The TDR coverage
mask (``out_mask``) stays exact: its branch is float32.
"""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from hdr_mm.deploy import (STAGE_NETWORKS, OnnxFileError,  # noqa: E402
                           example_inputs, load_ort_stage)
from hdr_mm.deploy.graph_backends import (GRAPH_BACKENDS,  # noqa: E402
                                          check_graph_precision)
from hdr_mm.deploy.int8 import (DEFAULT_FP32_ISLANDS,  # noqa: E402
                                INT8, ISLANDS_KEY, PRECISION_KEY,
                                SOURCE_KEY, Fp32Islands, file_sha256,
                                int8_graph_path, quantize_stage)

STAGES = ('hasm', 'tdr', 'shpe')
#: allowed relative L2 error of an int8 output (module docstring)
TOL = 0.15
ENGINES = ('onnxruntime', 'openvino')


def _engine(name: str) -> str:
    pytest.importorskip(name)
    return name


def _calibration(stage: str, model, size: int) -> list:
    """Two batches of two inputs of the stage network."""
    inputs = example_inputs(stage, model, size, batch_size=4)
    names = STAGE_NETWORKS[stage][0]
    return [{n: t[rows].numpy() for n, t in zip(names, inputs)}
            for rows in (slice(0, 2), slice(2, 4))]


@pytest.fixture(scope='module')
def quantized(tiny_graphs, tmp_path_factory):
    """stage -> (fp32 file, its SHA-256 before, int8 file, calibration):
    the session's graphs copied into a folder of this module's and
    quantized next to themselves."""
    folder = tmp_path_factory.mktemp('int8')
    out = {}
    for stage, (model, path, size) in tiny_graphs.items():
        fp32 = str(folder / f'{stage}.onnx')
        shutil.copy(path, fp32)
        before = file_sha256(fp32)
        calib = _calibration(stage, model, size)
        out[stage] = (fp32, before, quantize_stage(fp32, calib), calib)
    return out


def _graph(path: str):
    import onnx
    return onnx.load(path).graph


def _dequantized(graph) -> dict:
    """node name -> whether it computes on quantized values: for a
    convolution or matrix product its weight (second input), for any
    other node any input, is a DequantizeLinear output."""
    dq = {o for n in graph.node if n.op_type == 'DequantizeLinear'
          for o in n.output}
    return {
        n.name: (n.input[1] in dq if n.op_type in ('Conv', 'MatMul', 'Gemm')
                 else any(i in dq for i in n.input))
        for n in graph.node
    }


def _metadata(path: str) -> dict:
    import onnx
    return {p.key: p.value for p in onnx.load(path).metadata_props}


@pytest.mark.parametrize('stage', STAGES)
def test_written_next_to_the_source_which_is_untouched(quantized, stage):
    fp32, before, int8, _ = quantized[stage]
    assert int8 == int8_graph_path(fp32) == fp32[:-5] + '.int8.onnx'
    assert file_sha256(fp32) == before
    # written atomically: no temporary file left behind
    assert sorted(os.listdir(osp.dirname(fp32))) == sorted(
        f'{s}{ext}' for s in STAGES for ext in ('.onnx', '.int8.onnx'))
    ops = {n.op_type for n in _graph(int8).node}
    assert {'QuantizeLinear', 'DequantizeLinear'} <= ops


@pytest.mark.parametrize('stage', STAGES)
def test_metadata_kept_and_marked(quantized, stage):
    fp32, before, int8, _ = quantized[stage]
    runner = load_ort_stage(int8, num_threads=1)  # as_stage_runner checks
    source = load_ort_stage(fp32, num_threads=1)
    assert type(runner) is type(source)
    assert runner.input_names == source.input_names
    assert runner.output_names == source.output_names
    for key, value in source.metadata.items():
        assert runner.metadata[key] == value
    assert runner.metadata[PRECISION_KEY] == INT8
    assert runner.metadata[SOURCE_KEY] == before
    assert 'QDQ, weights int8 per channel, activations uint8, minmax ' \
        'over 2 batches' == runner.metadata['hdr_mm_int8_scheme']


def _rel_l2(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out - ref).norm() / ref.norm())


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('stage', STAGES)
def test_close_to_fp32_on_the_calibration_inputs(quantized, stage, engine):
    fp32, _, _, calib = quantized[stage]
    load = GRAPH_BACKENDS[_engine(engine)].load
    runner = load(fp32, 1, 'int8')
    reference = load(fp32, 1, 'fp32')
    names = STAGE_NETWORKS[stage][0]
    for batch in calib:
        inputs = [torch.from_numpy(batch[n]) for n in names]
        for name, out, ref in zip(STAGE_NETWORKS[stage][1],
                                  runner.run(*inputs),
                                  reference.run(*inputs)):
            assert out.shape == ref.shape and torch.isfinite(out).all()
            if name == 'out_mask':
                assert torch.equal(out, ref)
            else:
                assert _rel_l2(out, ref) < TOL, (stage, name)


def test_fp32_islands_stay_float(quantized):
    """The default islands' convolutions keep float32 weights; the other
    convolutions run on int8 weights."""
    expected = dict(
        hasm=[f'/conv_segs.{i}/Conv' for i in range(4)],
        shpe=[f'/{b}_branch/predict/Conv'
              for b in ('heatmap', 'delta', 'location')],
        tdr=['/generator/decoders.0/pconv/Conv'])
    for stage, (_, _, int8, _) in quantized.items():
        dequantized = _dequantized(_graph(int8))
        islands = _metadata(int8)[ISLANDS_KEY].split(',')
        assert set(expected[stage]) <= set(islands)
        assert not any(dequantized[n] for n in islands)
        convs = [n for n in dequantized
                 if n.endswith('/Conv') and n not in islands]
        assert convs and all(dequantized[n] for n in convs)
    # TDR: in every partial convolution the mask branch (coverage sum and
    # all-ones convolution, holes, reciprocal) is float32, while the image
    # convolution is int8 (but in the last decoder level)
    graph = _graph(quantized['tdr'][2])
    dequantized = _dequantized(graph)
    levels = [n.name[:-len('/Conv')] for n in graph.node
              if n.name.endswith('/pconv/Conv')]
    assert len(levels) == 10
    for level in levels:
        mask_ops = [n.name for n in graph.node
                    if n.name.startswith(level + '/') and n.op_type in (
                        'ReduceSum', 'Reciprocal', 'Where', 'Equal')]
        assert len(mask_ops) >= 4
        assert not any(dequantized[n] for n in mask_ops + [level + '/Conv_1'])
        assert dequantized[level + '/Conv'] == ('decoders.0' not in level)


def test_islands_select_the_mask_branch(tiny_graphs):
    graph = _graph(tiny_graphs['tdr'][1])
    branch = set(Fp32Islands(input_branches=('mask', )).select(graph))
    by_name = {n.name: n for n in graph.node}
    assert '/generator/encoders.0/pconv/ReduceSum' in branch
    assert '/generator/encoders.0/pconv/Conv_1' in branch  # coverage
    assert '/generator/encoders.0/pconv/Conv' not in branch  # x * mask
    assert all(by_name[n].op_type != 'MatMul' for n in branch)
    with pytest.raises(ValueError, match=r"\['masks'\] are not inputs of "
                       r"the graph \(its inputs: \['x', 'mask'\]\)"):
        Fp32Islands(input_branches=('masks', )).select(graph)


def test_islands_can_be_overridden(quantized, tmp_path):
    """Fp32Islands() quantizes SHPE's read-out too; a merged selection
    keeps a later stage of the trunk float32 as well."""
    fp32, _, _, calib = quantized['shpe']
    none = quantize_stage(fp32, calib, str(tmp_path / 'none.onnx'),
                          fp32_islands=Fp32Islands())
    assert _dequantized(_graph(none))['/heatmap_branch/predict/Conv']
    more = DEFAULT_FP32_ISLANDS['shpe'].merged(
        Fp32Islands(name_patterns=('^/backbone/layer2/', )))
    kept = quantize_stage(fp32, calib, str(tmp_path / 'more.onnx'),
                          fp32_islands=more)
    dequantized = _dequantized(_graph(kept))
    # the defaults keep the stem and the first stage float32 (OpenVINO)
    assert not dequantized['/backbone/conv1/Conv']
    assert not dequantized['/backbone/layer1/layer1.0/conv1/Conv']
    assert not dequantized['/backbone/layer2/layer2.0/conv1/Conv']
    assert not dequantized['/heatmap_branch/predict/Conv']
    assert dequantized['/backbone/layer3/layer3.0/conv1/Conv']


def _int8_weights(path: str) -> list:
    """The int8 initializers a DequantizeLinear reads (the weights)."""
    import onnx
    from onnx import numpy_helper
    graph = _graph(path)
    dq_inputs = {n.input[0] for n in graph.node
                 if n.op_type == 'DequantizeLinear'}
    return [numpy_helper.to_array(t) for t in graph.initializer
            if t.name in dq_inputs and t.data_type == onnx.TensorProto.INT8]


def test_reduce_range_keeps_the_weights_in_7_bits(quantized, tmp_path):
    """reduce_range (for u8s8 kernels without VNNI) quantizes the weights
    to [-64, 64], so that two 8-bit products of uint8 activations fit a
    16-bit lane (2 x 255 x 64 < 32767); the default uses the full
    symmetric range, 127 at each channel's largest weight. The scheme in
    the metadata says which."""
    fp32, _, int8, calib = quantized['shpe']
    full = _int8_weights(int8)
    assert full and max(int(np.abs(w).max()) for w in full) == 127
    seven = quantize_stage(fp32, calib, str(tmp_path / 'rr.onnx'),
                           reduce_range=True)
    weights = _int8_weights(seven)
    assert len(weights) == len(full)
    assert max(int(np.abs(w).max()) for w in weights) == 64
    assert '(7-bit range)' in _metadata(seven)['hdr_mm_int8_scheme']
    assert '(7-bit range)' not in _metadata(int8)['hdr_mm_int8_scheme']


@pytest.mark.parametrize('engine', ENGINES)
def test_int8_runners_of_both_engines(quantized, engine):
    fp32, _, int8, _ = quantized['tdr']
    runner = GRAPH_BACKENDS[_engine(engine)].load(fp32, 1, 'int8')
    assert runner.onnx_file == int8 and runner.stage == 'tdr'
    assert runner.backend == engine
    if engine == 'openvino':
        assert runner.inference_precision == 'fp32'  # the float parts


@pytest.mark.parametrize('engine', ENGINES)
def test_missing_int8_graph_is_named_with_its_command(
        quantized, tmp_path, engine):
    fp32 = str(tmp_path / 'shpe.onnx')
    shutil.copy(quantized['shpe'][0], fp32)
    missing = str(tmp_path / 'shpe.int8.onnx')
    with pytest.raises(FileNotFoundError) as e:
        GRAPH_BACKENDS[_engine(engine)].load(fp32, 1, 'int8')
    assert str(e.value) == (
        f"precision='int8': the quantized graph {missing} is missing (the "
        'int8 graph of shpe.onnx); write it with python '
        'tools/deployment/quantize_int8.py CONFIG CHECKPOINT --onnx-dir '
        f'{tmp_path}')


@pytest.mark.parametrize('engine', ENGINES)
def test_corrupt_int8_graph_is_refused_by_name(quantized, tmp_path, engine):
    fp32 = str(tmp_path / 'shpe.onnx')
    shutil.copy(quantized['shpe'][0], fp32)
    int8 = tmp_path / 'shpe.int8.onnx'
    data = open(quantized['shpe'][2], 'rb').read()
    int8.write_bytes(data[:len(data) // 2])
    with pytest.raises(OnnxFileError,
                       match=f'^cannot load ONNX file {int8}: '):
        GRAPH_BACKENDS[_engine(engine)].load(fp32, 1, 'int8')


def test_int8_graph_of_another_export_is_refused(quantized, tmp_path):
    """The float32 graph next to it changed since it was quantized (new
    weights): refused, naming both and the command."""
    fp32 = tmp_path / 'shpe.onnx'
    fp32.write_bytes(open(quantized['shpe'][0], 'rb').read() + b'\n')
    shutil.copy(quantized['shpe'][2], tmp_path / 'shpe.int8.onnx')
    with pytest.raises(OnnxFileError,
                       match=f'{tmp_path}/shpe.int8.onnx was quantized from '
                       f'another {fp32} .*quantize again with python '
                       'tools/deployment/quantize_int8.py'):
        GRAPH_BACKENDS['onnxruntime'].load(str(fp32), 1, 'int8')


def test_float_graph_in_the_int8_place_is_refused(quantized, tmp_path):
    fp32 = str(tmp_path / 'hasm.onnx')
    shutil.copy(quantized['hasm'][0], fp32)
    shutil.copy(fp32, tmp_path / 'hasm.int8.onnx')
    with pytest.raises(OnnxFileError, match='hasm.int8.onnx is not a '
                       'quantized hdr_mm graph: its metadata has no '
                       "hdr_mm_precision = 'int8'"):
        GRAPH_BACKENDS['onnxruntime'].load(fp32, 1, 'int8')


def test_quantize_refuses_bad_input(quantized, tmp_path):
    fp32, before, int8, calib = quantized['shpe']
    with pytest.raises(ValueError, match='out_file is the source graph'):
        quantize_stage(fp32, calib, fp32)
    with pytest.raises(OnnxFileError, match='is quantized already'):
        quantize_stage(int8, calib, str(tmp_path / 'again.onnx'))
    with pytest.raises(ValueError, match=r"calibration batch 0 has inputs "
                       r"\['x'\], expected \['inputs'\]"):
        quantize_stage(fp32, [dict(x=calib[0]['inputs'])],
                       str(tmp_path / 'x.onnx'))
    with pytest.raises(ValueError, match='no calibration batches'):
        quantize_stage(fp32, [], str(tmp_path / 'x.onnx'))
    with pytest.raises(ValueError, match='expected a float32 stage graph'):
        int8_graph_path(int8)
    empty = tmp_path / 'empty.onnx'
    empty.write_bytes(b'')
    with pytest.raises(OnnxFileError, match=f'{empty}: it is empty'):
        quantize_stage(str(empty), calib)
    assert file_sha256(fp32) == before
    assert not [p for p in tmp_path.iterdir() if p.name != 'empty.onnx']


def test_int8_is_a_graph_precision_only():
    from hdr_mm.models.hdr.runtime import check_runtime
    for engine in ENGINES:
        check_graph_precision(engine, 'int8')
        check_runtime('int8', engine)
    check_runtime('int8', 'auto')  # the graph engines, in order
    with pytest.raises(ValueError, match="backend='pytorch'"):
        check_runtime('int8', 'pytorch')
    with pytest.raises(ValueError, match="runs the float32 graphs in fp32 "
                       "only \\(and the quantized ones in int8\\)"):
        check_graph_precision('onnxruntime', 'bf16')


def test_calibration_reader():
    from onnxruntime.quantization import CalibrationDataReader

    from hdr_mm.deploy.int8 import NumpyCalibrationReader
    reader = NumpyCalibrationReader(
        [dict(inputs=np.zeros((1, 3), np.float64)), dict(inputs=np.ones(2))])
    assert isinstance(reader, CalibrationDataReader) and len(reader) == 2
    first = reader.get_next()['inputs']
    assert first.dtype == np.float32 and first.shape == (1, 3)
    assert reader.get_next() is not None and reader.get_next() is None
    reader.rewind()
    assert reader.get_next() is not None
