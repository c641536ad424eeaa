"""The pipeline's runtimes: prepared fp32, bf16, onnxruntime, OpenVINO and
'auto' give the eager pipeline's results on the tiny config; a backend
plugs in at the stages' entries."""
import copy
import importlib.util
import logging

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from hdr_mm.models.hdr import STAGE_BACKENDS, StageCheckpointError
from hdr_mm.models.hdr.runtime import check_runtime, is_prepared
from hdr_mm.models.utils import model_precision

CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


@pytest.fixture(scope='module')
def cfg(synthetic_root):
    cfg = Config.fromfile(CONFIG)
    ds = cfg.test_dataloader.dataset
    ds.data_root = str(synthetic_root / 'interhand2.6m')
    ds.ann_file = 'annotations/test/InterHand2.6M_test_data.json'
    cfg.test_pipeline[2].out_size = 96
    ds.pipeline = cfg.test_pipeline
    return cfg


@pytest.fixture(scope='module')
def batch(cfg):
    init_default_scope('mmpose')
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    return pseudo_collate([ds[i] for i in range(min(len(ds), 2))])


def _model(cfg, **kwargs):
    """The tiny pipeline (seed 0), eager unless ``kwargs`` say otherwise:
    the config's default is 'auto', and the eager results are the
    reference here."""
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.update(dict(dict(precision=None, backend='pytorch'), **kwargs))
    return MODELS.build(model_cfg).eval()


def _outputs(model, batch):
    return model.test_step(copy.deepcopy(batch))


@pytest.fixture(scope='module')
def eager(cfg, batch):
    return _outputs(_model(cfg), batch)


def test_prepared_fp32_equals_eager(cfg, batch, eager):
    model = _model(cfg, precision='fp32')
    out = _outputs(model, batch)
    assert model.runtime.precision == 'fp32'
    for a, b in zip(eager, out):
        np.testing.assert_array_equal(a.pred_fields.hand_masks,
                                      b.pred_fields.hand_masks)
        assert (a.tdr_crops.int() - b.tdr_crops.int()).abs().max() <= 1
        np.testing.assert_allclose(a.pred_instances.keypoints,
                                   b.pred_instances.keypoints, atol=1e-3)
    # prepared networks (BatchNorms folded) refuse a checkpoint
    with pytest.raises(StageCheckpointError, match='before the first'):
        model.load_state_dict(_model(cfg).state_dict())


def _assert_same_as_eager(eager, out):
    """The graph backends' fp32 results are eager's: the same masks, TDR
    crops within one grey level, the same joints (the maps agree within
    1e-4 of their range: tests/test_deploy)."""
    assert len(out) == len(eager)
    for a, b in zip(eager, out):
        np.testing.assert_array_equal(a.pred_fields.hand_masks,
                                      b.pred_fields.hand_masks)
        assert (a.tdr_crops.int() - b.tdr_crops.int()).abs().max() <= 1
        np.testing.assert_allclose(a.pred_instances.keypoints,
                                   b.pred_instances.keypoints, atol=1e-3)
        np.testing.assert_allclose(a.pred_instances.keypoints_3d,
                                   b.pred_instances.keypoints_3d, atol=1e-2)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_graph_backend_equals_pytorch(cfg, batch, eager, tmp_path, backend):
    pytest.importorskip(backend)
    model = _model(cfg, backend=backend)
    rt = model.set_runtime(None, backend, onnx_dir=str(tmp_path))
    assert (rt.backend, rt.precision, rt.reason) == (backend, None, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        '.hdr_mm_onnx_cache.json', 'hasm.onnx', 'shpe.onnx', 'tdr.onnx']
    _assert_same_as_eager(eager, _outputs(model, batch))


def _assert_bf16_close_to_eager(eager, out):
    """bf16 results: float32 joints, finite, nearly the same masks."""
    for a, b in zip(eager, out):
        pred = b.pred_instances
        assert pred.keypoints.dtype == np.float32
        assert np.isfinite(pred.keypoints).all()
        # random weights: the masks are noise-like, yet nearly all of
        # their pixels survive bf16
        same = (a.pred_fields.hand_masks == b.pred_fields.hand_masks)
        assert same.float().mean() > 0.95


def test_bf16_runs_end_to_end(cfg, batch, eager):
    model = _model(cfg, precision='bf16')
    _assert_bf16_close_to_eager(eager, _outputs(model, batch))


def _ov_native_bf16() -> bool:
    if importlib.util.find_spec('openvino') is None:
        return False
    from hdr_mm.deploy.openvino_backend import ov_native_bf16
    return ov_native_bf16()


@pytest.mark.skipif(not _ov_native_bf16(),
                    reason='OpenVINO bf16 needs a CPU with native bf16')
def test_openvino_bf16_end_to_end(cfg, batch, eager):
    model = _model(cfg, precision='bf16', backend='openvino')
    rt = model.runtime
    assert rt.tdr.inference_precision == 'bf16'
    _assert_bf16_close_to_eager(eager, _outputs(model, batch))


def test_auto_on_this_machine(cfg, batch, eager):
    """'auto' builds the path decide_runtime picks for this machine and
    keeps its reason; its results are eager's (fp32) or bf16's."""
    from hdr_mm.deploy.auto import decide_runtime, machine_facts
    choice = decide_runtime(machine_facts())
    model = _model(cfg, precision='auto', backend='auto')
    assert (model.precision, model.backend) == ('auto', 'auto')
    rt = model.runtime
    assert (rt.precision, rt.backend) == choice.paths[0]
    assert rt.reason == choice.reason
    out = _outputs(model, batch)
    if rt.precision == 'bf16':
        _assert_bf16_close_to_eager(eager, out)
    else:
        _assert_same_as_eager(eager, out)


def test_auto_falls_back_when_an_engine_fails(cfg, batch, eager,
                                              monkeypatch, pretend_cpu):
    """On an AVX2-only CPU, 'auto' is onnxruntime fp32; an onnxruntime that
    cannot load the graphs gives OpenVINO fp32, with a warning naming it,
    and the same results."""
    pytest.importorskip('openvino')
    from hdr_mm.deploy import OnnxFileError, auto, graph_backends
    pretend_cpu(flags=frozenset({'avx2'}), capability='AVX2',
                onednn_bf16='none',
                backends=frozenset({'onnxruntime', 'openvino'}))

    def broken(onnx_file, num_threads, precision):
        raise OnnxFileError(f'{onnx_file}: broken engine')

    monkeypatch.setitem(
        graph_backends.GRAPH_BACKENDS, 'onnxruntime',
        graph_backends.GraphBackend('onnxruntime', ('fp32', ), broken))
    warnings = []
    monkeypatch.setattr(auto, 'print_log',
                        lambda msg, logger, level: warnings.append(msg)
                        if level == logging.WARNING else None)
    model = _model(cfg)
    rt = model.set_runtime('auto', 'auto')
    assert (rt.precision, rt.backend) == ('fp32', 'openvino')
    assert len(warnings) == 1 and warnings[0].startswith(
        'runtime auto: onnxruntime fp32 failed to load or compile '
        '(OnnxFileError: ')
    assert warnings[0].endswith('falling back to OpenVINO fp32')
    assert rt.reason.endswith('running OpenVINO fp32')
    _assert_same_as_eager(eager, _outputs(model, batch))


def test_bad_runtime_is_refused(cfg):
    with pytest.raises(ValueError, match='precision'):
        _model(cfg, precision='fp16')
    with pytest.raises(ValueError, match='backend'):
        _model(cfg, backend='tensorrt')
    with pytest.raises(ValueError, match='float32'):
        _model(cfg, precision='bf16', backend='onnxruntime')
    # 'auto' is accepted for either, with any other value
    for precision, backend in [('auto', 'onnxruntime'), ('bf16', 'auto'),
                               (None, 'auto'), ('auto', 'openvino')]:
        check_runtime(precision, backend)


def test_onnx_dir_keeps_files_it_did_not_write(cfg, tmp_path):
    """The onnxruntime backend re-exports over its own files, but refuses a
    file it did not write or one that changed since (e.g. truncated)."""
    pytest.importorskip('onnxruntime')
    model = _model(cfg, backend='onnxruntime')
    model.set_runtime(None, 'onnxruntime', onnx_dir=str(tmp_path))
    model.set_runtime(None, 'onnxruntime', onnx_dir=str(tmp_path))
    tdr = tmp_path / 'tdr.onnx'
    broken = tdr.read_bytes()[:1000]
    tdr.write_bytes(broken)
    with pytest.raises(FileExistsError,
                       match=f'{tdr} changed since the onnxruntime backend '
                       'wrote it'):
        model.set_runtime(None, 'onnxruntime', onnx_dir=str(tmp_path))
    assert tdr.read_bytes() == broken  # not re-exported over
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'hasm.onnx').write_bytes(b'my own graph')
    with pytest.raises(FileExistsError,
                       match='hasm.onnx exists and was not written by the '
                       'onnxruntime backend'):
        model.set_runtime(None, 'onnxruntime', onnx_dir=str(other))
    assert (other / 'hasm.onnx').read_bytes() == b'my own graph'


def test_a_registered_backend_plugs_in_at_the_entries(cfg, batch, eager):
    """Any backend in STAGE_BACKENDS hands the stages' entries their
    networks; here one that computes HASM's and SHPE's outside the
    models (what onnxruntime does) and counts the calls."""
    calls = []

    @STAGE_BACKENDS.register_module(name='outside')
    class Outside:

        def __init__(self, precision=None, onnx_dir=None, num_threads=None):
            pass

        @staticmethod
        def check_precision(precision):
            pass

        def networks(self, stages, sizes, device_type):
            hasm, shpe = stages['hasm'], stages['shpe']

            def logits(x, metas):
                calls.append('hasm')
                return hasm.encode_decode(x, metas)

            def maps(x):
                calls.append('shpe')
                return shpe.head.forward(shpe.extract_feat(x))

            return dict(hasm=logits, shpe=maps)

    try:
        model = _model(cfg, backend='outside')
        out = _outputs(model, batch)
    finally:
        STAGE_BACKENDS.module_dict.pop('outside')
    assert calls == ['hasm', 'shpe']
    assert model.runtime.backend == 'outside'
    for a, b in zip(eager, out):
        np.testing.assert_array_equal(a.pred_fields.hand_masks,
                                      b.pred_fields.hand_masks)
        np.testing.assert_allclose(a.pred_instances.keypoints,
                                   b.pred_instances.keypoints, atol=1e-3)


def test_precision_prepares_what_each_entry_runs(cfg):
    """TDR prepares its generator only (the discriminator never runs at
    inference); the pipeline knows it is prepared from its stages."""
    # the tiny TDR trains without a discriminator: give it one (the paper
    # config's kind) to check that preparation leaves it alone
    tdr = copy.deepcopy(cfg.model.tdr)
    tdr.cfg_options = dict(
        tdr.get('cfg_options') or {},
        **{'model.discriminator': dict(_delete_=True,
                                       type='InpaintDiscriminator',
                                       in_channels=5, channels=(8, 8, 8, 8)),
           'model.gan_loss': dict(_delete_=True, type='NSGANLoss',
                                  loss_weight=0.1)})
    model = _model(cfg, tdr=tdr)
    assert model.tdr.discriminator is not None
    assert not is_prepared(model._stages())
    model.set_runtime('fp32')
    assert [s.inference_precision for s in model._stages()] == ['fp32'] * 3
    assert is_prepared(model._stages())
    assert model_precision(model.tdr.generator) == 'fp32'
    assert model_precision(model.tdr.discriminator) is None
    # left alone (prepared weights stop requiring gradients)
    assert all(p.requires_grad for p in model.tdr.discriminator.parameters())
    assert not any(p.requires_grad for p in model.tdr.generator.parameters())


def test_the_configs_default_is_auto(cfg):
    init_default_scope('mmpose')
    model = MODELS.build(copy.deepcopy(cfg.model))
    assert (model.precision, model.backend, model.onnx_dir) == (
        'auto', 'auto', None)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_graphs_in_a_temporary_folder_are_removed(cfg, batch, eager,
                                                  tmp_path, monkeypatch,
                                                  backend):
    """Without onnx_dir the graphs go to a temporary folder (never the
    working directory), removed once the engine has loaded them."""
    pytest.importorskip(backend)
    import tempfile
    work, tmp = tmp_path / 'cwd', tmp_path / 'tmp'
    work.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp))
    model = _model(cfg, backend=backend)
    _assert_same_as_eager(eager, _outputs(model, batch))
    assert model.runtime.backend == backend
    assert not list(work.iterdir()) and not list(tmp.iterdir())


def test_onnx_dir_of_the_config_keeps_the_graphs(cfg, tmp_path):
    pytest.importorskip('onnxruntime')
    model = _model(cfg, backend='onnxruntime', onnx_dir=str(tmp_path))
    model.runtime
    assert sorted(p.name for p in tmp_path.glob('*.onnx')) == [
        'hasm.onnx', 'shpe.onnx', 'tdr.onnx']


def test_a_stage_that_cannot_export_is_refused_before_any_export(
        cfg, tmp_path, monkeypatch):
    pytest.importorskip('onnxruntime')
    model = _model(cfg)

    def refuse():
        raise ValueError('the SHPE head X cannot read maps computed '
                         'elsewhere')

    monkeypatch.setattr(model.shpe, 'check_exportable', refuse)
    with pytest.raises(ValueError, match='cannot read maps'):
        model.set_runtime(None, 'onnxruntime', onnx_dir=str(tmp_path))
    assert not list(tmp_path.glob('*.onnx'))


def test_a_checkpoint_loaded_after_the_graphs_are_exported_again(
        cfg, batch, eager):
    """The graphs hold the weights they were exported with: loading a
    checkpoint drops them, and the next predict exports the new ones."""
    pytest.importorskip('onnxruntime')
    model = _model(cfg, backend='onnxruntime')
    with torch.no_grad():  # HASM: every pixel is hand
        for conv in model.hasm.decode_head.conv_segs:
            conv.weight.zero_()
            conv.bias.copy_(torch.tensor([-1., 1.]))
    old = model.runtime
    changed = _outputs(model, batch)
    assert all(c.pred_fields.hand_masks.all() for c in changed)
    assert not all(e.pred_fields.hand_masks.all() for e in eager)
    model.load_state_dict(_model(cfg).state_dict())
    assert model._runtime is None
    _assert_same_as_eager(eager, _outputs(model, batch))
    assert model.runtime is not old and model.runtime.backend == \
        'onnxruntime'
