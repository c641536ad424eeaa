"""demo/hdr_demo.py: the command the main job runs, on a real frame."""
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
    # 12 x 4.8 inches at 50 dpi
    assert panel.shape == (240, 600, 3)
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
    assert cv2.imread(written[0]).shape == (192, 480, 3)
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        demo.main([
            str(tmp_path / 'missing.jpg'), CONFIG, hdr_pipeline_checkpoint,
            '--out-dir', str(tmp_path / 'out')
        ])


def test_make_panel_without_hands(demo):
    """No hand found: the panel is still drawn (input and crops)."""
    from mmengine.structures import InstanceData
    from mmpose.datasets import InterHand3DDataset
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.structures import PoseDataSample

    from hdr_mm.apis import HDRInferencer
    from hdr_mm.visualization import HDRHandVisualizer
    vis = HDRHandVisualizer(name='test_demo_panel')
    vis.set_dataset_meta(parse_pose_metainfo(InterHand3DDataset.METAINFO))
    sample = PoseDataSample()
    sample.pred_instances = HDRInferencer._empty_instances()
    sample.set_field(np.zeros((2, 3, 32, 32), np.uint8), 'hand_crops')
    sample.set_field(np.zeros((2, 3, 32, 32), np.uint8), 'tdr_crops')
    panel = demo.make_panel(np.zeros((50, 40, 3), np.uint8), sample, vis,
                            dpi=20)
    assert panel.shape == (96, 240, 3)
    assert isinstance(sample.pred_instances, InstanceData)
