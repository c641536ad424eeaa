"""demo/hdr_demo.py: the command the main job runs, on a real frame."""
import importlib.util
import os.path as osp

import cv2
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
