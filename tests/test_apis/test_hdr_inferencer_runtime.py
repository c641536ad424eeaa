"""HDRInferencer's precision and backend: 'auto' by default (the path
this machine gets, logged with the reason), the same joints as eager, a
failing path falling back with a warning naming it, and the config's or
the caller's choice otherwise."""
import logging
import os.path as osp

import numpy as np
import pytest

from hdr_mm.apis import HDRInferencer
from hdr_mm.apis import hdr_inferencer as inferencer_module
from hdr_mm.deploy import auto
from hdr_mm.deploy.auto import decide_runtime, describe_path, machine_facts

CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'
#: the frame and its annotated two-hand box, x1 y1 x2 y2
FRAME, BOX = 'image44669.jpg', [116.4, 79.7, 279.6, 254.7]


@pytest.fixture
def logs(monkeypatch):
    """(level, message) of what the inferencer and 'auto' log."""
    lines = []

    def log(msg, logger=None, level=logging.INFO):
        lines.append((level, msg))

    monkeypatch.setattr(inferencer_module, 'print_log', log)
    monkeypatch.setattr(auto, 'print_log', log)
    return lines


def _joints(inferencer, frame):
    (res, ) = list(inferencer(frame, bboxes=[BOX], return_datasamples=True))
    inst = res['predictions'][0].pred_instances
    assert len(inst) == 1 and inst.hand_type.tolist() == [[1, 1]]
    return inst


@pytest.fixture(scope='module')
def eager_joints(repo_root, hdr_hands_checkpoint, test_data_dir):
    inf = HDRInferencer(osp.join(repo_root, CONFIG), hdr_hands_checkpoint,
                        device='cpu', precision=None, backend='pytorch')
    return _joints(inf, osp.join(test_data_dir, 'interhand2.6m', FRAME))


def test_auto_by_default_logs_why_and_gives_eager_joints(
        repo_root, hdr_hands_checkpoint, test_data_dir, eager_joints, logs):
    choice = decide_runtime(machine_facts())
    inf = HDRInferencer(osp.join(repo_root, CONFIG), hdr_hands_checkpoint,
                        device='cpu')
    rt = inf.model.runtime
    assert (rt.precision, rt.backend) == choice.paths[0]
    assert rt.reason == choice.reason
    assert (logging.INFO, f'runtime auto: {choice.reason}') in logs
    assert logs[-1] == (
        logging.INFO, f'HDRInferencer: the networks run as '
        f'{describe_path(choice.paths[0])}, chosen by auto')
    assert rt.describe() == (f'{describe_path(choice.paths[0])}, chosen by '
                             f'auto: {choice.reason}')
    inst = _joints(inf, osp.join(test_data_dir, 'interhand2.6m', FRAME))
    if rt.precision == 'bf16':  # tests/test_models/test_hdr/test_runtime
        assert np.isfinite(inst.keypoints).all()
    else:
        np.testing.assert_allclose(inst.keypoints, eager_joints.keypoints,
                                   atol=1e-3)
        np.testing.assert_allclose(inst.keypoints_3d,
                                   eager_joints.keypoints_3d, atol=1e-2)


def test_a_failing_auto_path_falls_back_with_a_warning(
        repo_root, hdr_hands_checkpoint, test_data_dir, eager_joints, logs,
        monkeypatch):
    """The first path's engine cannot load the graphs: the next path
    runs, the warning and the logged reason name the failure."""
    from hdr_mm.deploy import OnnxFileError, graph_backends
    paths = decide_runtime(machine_facts()).paths
    if paths[0][1] == 'pytorch':
        pytest.skip('no graph engine is the first choice here')

    def broken(onnx_file, num_threads, precision):
        raise OnnxFileError(f'{onnx_file}: broken engine')

    engine = paths[0][1]
    monkeypatch.setitem(
        graph_backends.GRAPH_BACKENDS, engine, graph_backends.GraphBackend(
            engine, graph_backends.GRAPH_BACKENDS[engine].precisions,
            broken))
    inf = HDRInferencer(osp.join(repo_root, CONFIG), hdr_hands_checkpoint,
                        device='cpu')
    rt = inf.model.runtime
    assert (rt.precision, rt.backend) == paths[1]
    warnings = [m for level, m in logs if level == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(
        f'runtime auto: {describe_path(paths[0])} failed to load or '
        'compile (OnnxFileError: ')
    assert warnings[0].endswith(f'falling back to {describe_path(paths[1])}')
    assert logs[-1][1] == (f'HDRInferencer: the networks run as '
                           f'{describe_path(paths[1])}, chosen by auto')
    assert rt.describe().endswith(f'running {describe_path(paths[1])}')
    if paths[1][0] != 'bf16':
        inst = _joints(inf, osp.join(test_data_dir, 'interhand2.6m', FRAME))
        np.testing.assert_allclose(inst.keypoints, eager_joints.keypoints,
                                   atol=1e-3)


def test_the_config_or_the_caller_chooses(repo_root, hdr_pipeline_checkpoint,
                                          tmp_path, logs):
    """precision/backend default to the config's (its model.precision,
    model.backend); given, they win; onnx_dir keeps the graphs."""
    pytest.importorskip('onnxruntime')
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.model.update(precision=None, backend='onnxruntime')
    inf = HDRInferencer(cfg, hdr_pipeline_checkpoint, device='cpu',
                        onnx_dir=str(tmp_path))
    assert (inf.model.runtime.precision, inf.model.runtime.backend) == (
        None, 'onnxruntime')
    assert logs[-1] == (logging.INFO, 'HDRInferencer: the networks run as '
                        'onnxruntime fp32 (as built), as asked')
    assert sorted(p.name for p in tmp_path.glob('*.onnx')) == [
        'hasm.onnx', 'shpe.onnx', 'tdr.onnx']
    inf = HDRInferencer(cfg, hdr_pipeline_checkpoint, device='cpu',
                        precision='fp32', backend='pytorch')
    assert (inf.model.runtime.precision, inf.model.runtime.backend) == (
        'fp32', 'pytorch')
    with pytest.raises(ValueError, match='float32'):
        HDRInferencer(cfg, hdr_pipeline_checkpoint, device='cpu',
                      precision='bf16')
