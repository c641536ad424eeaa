"""demo/hdr_demo.py: the command the main job runs, on a real frame;
its precision and backend ('auto' by default, printed with the reason)."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'demo', 'hdr_demo.py')
CONFIG = osp.join(ROOT, 'configs/hdr/hdr_tiny_synthetic-256x256.py')


@pytest.fixture(scope='module')
def demo():
    spec = importlib.util.spec_from_file_location('hdr_demo', DEMO)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_panel_per_image(demo, test_data_dir, hdr_pipeline_checkpoint,
                         tmp_path):
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    # the frame's annotated two-hand box, x1 y1 x2 y2
    box = ['116.4', '79.7', '279.6', '254.7']
    written = demo.main([
        frame, CONFIG, hdr_pipeline_checkpoint, '--out-dir',
        str(tmp_path), '--bbox', *box, '--device', 'cpu', '--dpi', '50'
    ])
    assert written == [str(tmp_path / 'image44669_hdr.png')]
    panel = cv2.imread(written[0])
    # 13 x 6.5 inches at 50 dpi
    assert panel.shape == (325, 650, 3)
    assert panel.std() > 10  # not a blank canvas


def test_folder_and_missing_image(demo, test_data_dir,
                                  hdr_pipeline_checkpoint, tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    img = cv2.imread(osp.join(test_data_dir, 'interhand2.6m',
                              'image2017.jpg'))
    cv2.imwrite(str(folder / 'a.png'), img)
    (folder / 'notes.txt').write_text('not an image')
    written = demo.main([
        str(folder), CONFIG, hdr_pipeline_checkpoint, '--out-dir',
        str(tmp_path / 'out'), '--dpi', '40'
    ])
    assert [osp.basename(p) for p in written] == ['a_hdr.png']
    assert cv2.imread(written[0]).shape == (260, 520, 3)
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        demo.main([
            str(tmp_path / 'missing.jpg'), CONFIG, hdr_pipeline_checkpoint,
            '--out-dir', str(tmp_path / 'out')
        ])


def test_detector_needs_config_and_weights(demo, test_data_dir,
                                           hdr_pipeline_checkpoint, tmp_path,
                                           capsys):
    from mmengine.utils import get_installed_path
    det_cfg = osp.join(get_installed_path('mmpose'), '.mim', 'demo',
                       'mmdetection_cfg', 'rtmdet_nano_320-8xb32_hand.py')
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    args = [frame, CONFIG, hdr_pipeline_checkpoint, '--out-dir',
            str(tmp_path)]
    for given, needed in (('--det-config', '--det-checkpoint'),
                          ('--det-checkpoint', '--det-config')):
        with pytest.raises(SystemExit) as e:
            demo.main(args + [given, det_cfg])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert f': error: {given} needs {needed}' in err
    assert not list(tmp_path.iterdir())


@pytest.fixture
def det_cfg():
    from mmengine.utils import get_installed_path
    return osp.join(get_installed_path('mmpose'), '.mim', 'demo',
                    'mmdetection_cfg', 'rtmdet_nano_320-8xb32_hand.py')


def _run_as_script(argv, monkeypatch):
    """``python demo/hdr_demo.py ARGV``, in this process: its exit."""
    import runpy
    import sys
    monkeypatch.setattr(sys, 'argv', [DEMO] + argv)
    with pytest.raises(SystemExit) as e:
        runpy.run_path(DEMO, run_name='__main__')
    return e.value.code


def test_detector_checkpoint_of_another_model_is_refused(
        demo, test_data_dir, hdr_pipeline_checkpoint, det_cfg, tmp_path,
        monkeypatch):
    """It was loaded non-strictly (exit 0, a detector with random
    weights): now the demo stops with a message naming the file."""
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    out = tmp_path / 'out'
    code = _run_as_script([
        frame, CONFIG, 'none', '--out-dir', str(out), '--det-config',
        det_cfg, '--det-checkpoint', hdr_pipeline_checkpoint
    ], monkeypatch)
    assert code.startswith(
        f'hdr_demo: detector checkpoint {hdr_pipeline_checkpoint} does not '
        f'fit the model of {det_cfg}: ')
    assert 'missing key(s)' in code
    assert not out.exists()


def test_crafted_detector_checkpoint_whatever_the_environment(
        demo, test_data_dir, det_cfg, crafted_checkpoint, tmp_path,
        monkeypatch):
    from hdr_mm.utils import UnsafeCheckpointError
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = tmp_path / 'pwned'
    evil = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    with pytest.raises(UnsafeCheckpointError,
                       match=f'^refused to load checkpoint {evil}: '):
        demo.main([frame, CONFIG, 'none', '--out-dir', str(tmp_path / 'o'),
                   '--det-config', det_cfg, '--det-checkpoint', evil])
    assert not marker.exists()


def test_detector_config_that_is_no_config(demo, test_data_dir,
                                           hdr_pipeline_checkpoint,
                                           tmp_path, monkeypatch):
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    code = _run_as_script([
        frame, CONFIG, 'none', '--out-dir', str(tmp_path / 'o'),
        '--det-config', hdr_pipeline_checkpoint, '--det-checkpoint',
        hdr_pipeline_checkpoint
    ], monkeypatch)
    assert code == (f'hdr_demo: detector config {hdr_pipeline_checkpoint} '
                    'is not a config file: expected one of .py, .json, '
                    '.yaml, .yml (is it a checkpoint or another file given '
                    'in the place of the config?)')


def _runtime_lines(capsys):
    """The demo's lines saying what runs (stdout also has mmengine's
    log)."""
    return [line for line in capsys.readouterr().out.splitlines()
            if line.startswith('runtime: ')]


@pytest.fixture
def recorded_joints(monkeypatch):
    """The joints each run of the inferencer gives (its ``forward``
    wrapped), in call order."""
    from hdr_mm.apis import HDRInferencer
    runs = []
    forward = HDRInferencer.forward

    def record(self, inputs, **kwargs):
        samples = forward(self, inputs, **kwargs)
        runs.append([s.pred_instances for s in samples])
        return samples

    monkeypatch.setattr(HDRInferencer, 'forward', record)
    return runs


def test_auto_by_default_prints_why_and_gives_eager_joints(
        demo, test_data_dir, hdr_hands_checkpoint, tmp_path, capsys,
        recorded_joints):
    from hdr_mm.deploy.auto import decide_runtime, describe_path, \
        machine_facts
    choice = decide_runtime(machine_facts())
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    args = [frame, CONFIG, hdr_hands_checkpoint, '--bbox', '116.4', '79.7',
            '279.6', '254.7', '--no-refine-box', '--dpi', '30']
    demo.main(args + ['--out-dir', str(tmp_path / 'auto')])
    assert _runtime_lines(capsys) == [
        f'runtime: {describe_path(choice.paths[0])}, chosen by auto: '
        f'{choice.reason}']
    demo.main(args + ['--out-dir', str(tmp_path / 'eager'), '--precision',
                      'none', '--backend', 'pytorch'])
    assert _runtime_lines(capsys) == [
        'runtime: PyTorch fp32 (as built), as asked']
    (auto, ), (eager, ) = recorded_joints
    assert auto.hand_type.tolist() == eager.hand_type.tolist() == [[1, 1]]
    if choice.precision != 'bf16':  # bf16: tests/test_models/test_hdr
        np.testing.assert_allclose(auto.keypoints, eager.keypoints,
                                   atol=1e-3)
        np.testing.assert_allclose(auto.keypoints_3d, eager.keypoints_3d,
                                   atol=1e-2)


def test_graph_backend_and_onnx_dir(demo, test_data_dir,
                                    hdr_pipeline_checkpoint, tmp_path,
                                    capsys, monkeypatch):
    """--onnx-dir keeps the engine's graphs; without it nothing is written
    into the working folder."""
    pytest.importorskip('onnxruntime')
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    work = tmp_path / 'cwd'
    work.mkdir()
    monkeypatch.chdir(work)
    args = [frame, CONFIG, hdr_pipeline_checkpoint, '--dpi', '30',
            '--precision', 'fp32', '--backend', 'onnxruntime']
    demo.main(args + ['--out-dir', str(tmp_path / 'a'), '--onnx-dir',
                      str(tmp_path / 'graphs')])
    assert _runtime_lines(capsys) == ['runtime: onnxruntime fp32, as asked']
    assert sorted(p.name for p in (tmp_path / 'graphs').glob('*.onnx')) == [
        'hasm.onnx', 'shpe.onnx', 'tdr.onnx']
    demo.main(args + ['--out-dir', str(tmp_path / 'b')])
    assert not list(work.iterdir())


def test_bad_precision_or_backend(demo, test_data_dir,
                                  hdr_pipeline_checkpoint, tmp_path,
                                  monkeypatch, capsys):
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    args = [frame, CONFIG, hdr_pipeline_checkpoint, '--out-dir',
            str(tmp_path / 'o')]
    with pytest.raises(SystemExit) as e:
        demo.main(args + ['--backend', 'tensorrt'])
    assert e.value.code == 2
    assert "invalid choice: 'tensorrt' (choose from 'auto', 'pytorch', " \
        "'onnxruntime', 'openvino')" in capsys.readouterr().err
    code = _run_as_script(args + ['--precision', 'bf16', '--backend',
                                  'onnxruntime'], monkeypatch)
    assert code.startswith("hdr_demo: backend='onnxruntime' runs the "
                           'float32 graphs in fp32 only')


def test_cfg_options_reach_the_model(demo, test_data_dir,
                                     hdr_pipeline_checkpoint, tmp_path,
                                     monkeypatch):
    """``--cfg-options`` sets the pipeline's settings (the main job passes
    its measured depth gap this way); a key nothing reads is refused."""
    import hdr_mm.apis as apis
    built = []

    class Recording(apis.HDRInferencer):

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.model)

    monkeypatch.setattr(apis, 'HDRInferencer', Recording)
    frame = osp.join(test_data_dir, 'interhand2.6m', 'image44669.jpg')
    box = ['116.4', '79.7', '279.6', '254.7']
    args = [frame, CONFIG, hdr_pipeline_checkpoint, '--out-dir',
            str(tmp_path), '--bbox', *box, '--dpi', '30']
    demo.main(args + ['--cfg-options', 'model.depth_gap_mm=108.4'])
    assert built[-1].depth_gap_mm == pytest.approx(108.4)
    demo.main(args)
    assert built[-1].depth_gap_mm is None  # the config's default
    with pytest.raises(ValueError, match='depth_gap_m'):
        demo.main(args + ['--cfg-options', 'model.depth_gap_m=108.4'])
