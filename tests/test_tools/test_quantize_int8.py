"""tools/deployment/quantize_int8.py on the tiny HDR pipeline (random
weights, a few generated frames): it writes the three quantized graphs
next to the float32 ones it exports, calibrated on the inputs each stage
network really receives, and ``HDRPoseEstimator(precision='int8',
backend='openvino' or 'onnxruntime', onnx_dir=DIR)`` runs them."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HDR = osp.join(ROOT, 'configs/hdr/hdr_tiny_synthetic-256x256.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'hdr_quantize_int8',
        osp.join(ROOT, 'tools/deployment/quantize_int8.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def options(tmp_path_factory) -> dict:
    """``--cfg-options`` that put the config's generated test set (6
    frames) in a folder of this module's."""
    data = tmp_path_factory.mktemp('frames') / 'hands'
    return {'synthetic_data.out_dir': str(data),
            'synthetic_data.num_samples': 6,
            'data_root': f'{data}/interhand2.6m/'}


@pytest.fixture(scope='module')
def frames(options) -> list:
    """``options`` on the command line."""
    return [f'{k}={v}' for k, v in options.items()]


@pytest.fixture(scope='module')
def quantized(tool, frames, hdr_hands_checkpoint, tmp_path_factory):
    """The tool's run: (onnx_dir, what it returned, what it printed)."""
    import contextlib
    import io
    onnx_dir = str(tmp_path_factory.mktemp('onnx'))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        written = tool.main([HDR, hdr_hands_checkpoint, '--onnx-dir',
                             onnx_dir, '--num-frames', '4', '--cfg-options',
                             *frames])
    return onnx_dir, written, printed.getvalue()


def test_writes_the_quantized_graphs(quantized):
    from hdr_mm.deploy.int8 import INT8, PRECISION_KEY, SOURCE_KEY
    from hdr_mm.deploy.onnx_cache import MANIFEST
    from hdr_mm.deploy.onnx_cache import file_sha256 as sha256
    onnx_dir, written, printed = quantized
    assert written == {s: osp.join(onnx_dir, f'{s}.int8.onnx')
                       for s in ('hasm', 'tdr', 'shpe')}
    import onnx
    for stage, path in written.items():
        meta = {p.key: p.value for p in onnx.load(path).metadata_props}
        assert meta['hdr_mm_stage'] == stage and meta[PRECISION_KEY] == INT8
        assert meta[SOURCE_KEY] == sha256(osp.join(onnx_dir,
                                                   f'{stage}.onnx'))
        assert f'{stage}: {path} (' in printed
    # 4 frames in batches of up to 8: one HASM call on 4 two-hand crops,
    # one TDR and one SHPE call on their 8 hand crops
    assert 'calibrated on 4 inputs in 1 batch; ' in printed
    assert printed.count('calibrated on 8 inputs in 1 batch; ') == 2
    assert osp.isfile(osp.join(onnx_dir, MANIFEST))


def test_reduce_range_option(tool, frames, hdr_hands_checkpoint, tmp_path,
                             quantized):
    """--reduce-range quantizes the weights to 7 bits (the scheme in the
    metadata says so); without it, full 8 bits."""
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        written = tool.main([HDR, hdr_hands_checkpoint, '--onnx-dir',
                             str(tmp_path), '--num-frames', '1', '--stages',
                             'shpe', '--reduce-range', '--cfg-options',
                             *frames])
    assert list(written) == ['shpe']
    scheme = 'hdr_mm_int8_scheme'
    assert 'per channel (7-bit range), ' in \
        tool._metadata(written['shpe'])[scheme]
    assert '7-bit' not in tool._metadata(quantized[1]['shpe'])[scheme]


def test_records_what_reaches_the_stage_networks(tool, options,
                                                 hdr_hands_checkpoint):
    """The recorded inputs are those of the graphs, shapes and all; the
    pipeline's runtime is left to be built again."""
    cfg, model = tool.build_pipeline(HDR, hdr_hands_checkpoint,
                                     options)
    record = tool.record_stage_inputs(cfg, model, 3, ['hasm', 'tdr',
                                                      'shpe'])
    assert model._runtime is None
    (hasm, ), (tdr, ), (shpe, ) = record['hasm'], record['tdr'], \
        record['shpe']
    assert hasm['inputs'].shape[0] == 3 and hasm['inputs'].shape[1] >= 3
    assert hasm['inputs'].shape[2:] == (model.hasm_size, ) * 2
    assert tdr['x'].shape == tdr['mask'].shape == (6, 8) + (
        model.tdr_size, ) * 2
    assert set(np.unique(tdr['mask'])) <= {0.0, 1.0}
    assert shpe['inputs'].shape == (6, 3) + (model.shpe_size, ) * 2
    assert all(v.dtype == np.float32 for r in record.values() for b in r
               for v in b.values())


@pytest.mark.parametrize('engine', ['openvino', 'onnxruntime'])
def test_pipeline_runs_int8_from_onnx_dir(tool, quantized, options,
                                          hdr_hands_checkpoint, engine):
    """HDRPoseEstimator(precision='int8', backend=engine, onnx_dir=DIR)
    runs the quantized graphs: it exports the float32 graphs again (the
    same bytes: the int8 graphs are current) and finds the hands the
    float32 pipeline finds."""
    pytest.importorskip(engine)
    from mmpose.registry import MODELS

    from hdr_mm.deploy.int8 import INT8, PRECISION_KEY
    from hdr_mm.utils import load_weights
    onnx_dir = quantized[0]
    cfg, eager = tool.build_pipeline(HDR, hdr_hands_checkpoint,
                                     options)
    model = MODELS.build(dict(cfg.model, precision='int8', backend=engine,
                              onnx_dir=onnx_dir))
    load_weights(model, hdr_hands_checkpoint, 'HDR checkpoint')
    model.eval()
    rt = model.runtime
    assert (rt.precision, rt.backend) == ('int8', engine)
    assert rt.describe() == f'{engine.replace("openvino", "OpenVINO")} ' \
        'int8, as asked'
    for net in (rt.tdr, rt.shpe, rt.hasm.__self__):
        assert net.metadata[PRECISION_KEY] == INT8
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(2)])
    with torch.no_grad():
        ref = eager.test_step(batch)
        out = model.test_step(batch)
    for a, b in zip(out, ref):
        pa, pb = a.pred_instances, b.pred_instances
        assert np.array_equal(pa.hand_type, pb.hand_type)
        assert np.array_equal(pa.hand_bboxes, pb.hand_bboxes)
        assert torch.equal(a.pred_fields.hand_masks,
                           b.pred_fields.hand_masks)
        # the joints are not compared: the random-weight SHPE's heat maps
        # are flat (their arg-max moves with any rounding); its maps are
        # compared in tests/test_deploy/test_int8.py
        assert pa.keypoints.shape == pb.keypoints.shape
        assert np.isfinite(pa.keypoints).all()


@pytest.mark.parametrize('weights', ['quantized', 'other'])
def test_auto_runs_the_quantized_graphs_where_int8_pays(
        tool, quantized, options, hdr_hands_checkpoint, tmp_path,
        monkeypatch, pretend_cpu, zen4_facts, weights):
    """precision='auto' with the quantized graphs in onnx_dir, on a CPU
    with VNNI and no AMX (an AMD Zen 4's flags): OpenVINO int8, then
    onnxruntime int8, saying why. Graphs quantized from other weights than
    the pipeline's fail to open and are fallen back from, with a warning
    naming them."""
    pytest.importorskip('openvino')
    import logging
    import shutil

    from mmpose.registry import MODELS

    from hdr_mm.deploy import auto
    from hdr_mm.utils import load_weights
    pretend_cpu(**zen4_facts)
    warned = []
    monkeypatch.setattr(auto, 'print_log',
                        lambda msg, logger, level: warned.append(msg)
                        if level == logging.WARNING else None)
    onnx_dir = str(tmp_path / 'graphs')  # a copy: the float32 graphs of
    shutil.copytree(quantized[0], onnx_dir)  # other weights replace them
    cfg, _ = tool.build_pipeline(HDR, hdr_hands_checkpoint, options)
    torch.manual_seed(1)
    model = MODELS.build(dict(cfg.model, precision='auto', backend='auto',
                              onnx_dir=onnx_dir))
    if weights == 'quantized':
        load_weights(model, hdr_hands_checkpoint, 'HDR checkpoint')
    rt = model.eval().runtime
    if weights == 'quantized':
        assert (rt.precision, rt.backend) == ('int8', 'openvino')
        assert 'quantized graphs of every stage are in onnx_dir and the ' \
            'CPU has VNNI without AMX' in rt.reason
        assert 'chosen OpenVINO int8, falling back to onnxruntime int8, ' \
            'then OpenVINO bf16, then PyTorch bf16' in rt.reason
        assert not warned
    else:
        assert (rt.precision, rt.backend) == ('bf16', 'openvino')
        assert len(warned) == 2
        for engine, msg in zip(('OpenVINO', 'onnxruntime'), warned):
            assert msg.startswith(f'runtime auto: {engine} int8 failed to '
                                  'load or compile (OnnxFileError: ')
            assert 'hasm.int8.onnx was quantized from another' in msg


def test_pipeline_int8_needs_the_quantized_graphs(tool, options, tmp_path,
                                                  hdr_hands_checkpoint):
    cfg, model = tool.build_pipeline(HDR, hdr_hands_checkpoint,
                                     options)
    with pytest.raises(FileNotFoundError,
                       match=f'the quantized graph {tmp_path}/hasm.int8.onnx '
                       'is missing .*tools/deployment/quantize_int8.py '
                       f'CONFIG CHECKPOINT --onnx-dir {tmp_path}$'):
        model.set_runtime('int8', 'onnxruntime', onnx_dir=str(tmp_path))
    with pytest.raises(ValueError, match="precision='int8' runs the "
                       'quantized graphs in onnx_dir: give onnx_dir=DIR'):
        model.set_runtime('int8', 'onnxruntime')


def test_a_foreign_file_is_refused_before_the_run(tool, frames, tmp_path,
                                                  hdr_hands_checkpoint):
    (tmp_path / 'tdr.int8.onnx').write_bytes(b'mine')
    with pytest.raises(FileExistsError, match=f'{tmp_path}/tdr.int8.onnx '
                       'exists and was not written by the quantize_int8'):
        tool.main([HDR, hdr_hands_checkpoint, '--onnx-dir', str(tmp_path),
                   '--stages', 'tdr', '--cfg-options', *frames])
    assert (tmp_path / 'tdr.int8.onnx').read_bytes() == b'mine'
    assert not (tmp_path / 'tdr.onnx').exists()
