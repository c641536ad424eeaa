"""HDRInferencer: the HDR pipeline through mmpose's inferencer API, on the
real InterHand2.6M frames and on a generated frame, with freshly
initialised tiny stages (``hdr_pipeline_checkpoint``)."""
import copy
import json
import os.path as osp
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement, InstanceData
from mmpose.datasets import InterHand3DDataset
from mmpose.registry import INFERENCERS

from hdr_mm.apis import HDRInferencer
from hdr_mm.datasets.synthetic import camera, render_view, sample_scene
from hdr_mm.models.hdr import StageCheckpointError
from hdr_mm.structures import bbox_of_mask, bbox_of_points
from hdr_mm.utils import CheckpointMismatchError

CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


@pytest.fixture(scope='module')
def inferencer(repo_root, hdr_pipeline_checkpoint):
    """Eager (as built): the tests change HASM's weights in place, which
    the graphs 'auto' may export would not see."""
    return HDRInferencer(
        osp.join(repo_root, CONFIG), hdr_pipeline_checkpoint, device='cpu',
        precision=None, backend='pytorch')


@pytest.fixture(scope='module')
def real_frames(test_data_dir):
    """(image paths, (42, 3) joints u, v, visible) of the 4 real frames."""
    init_default_scope('mmpose')
    ds = InterHand3DDataset(
        data_root=osp.join(test_data_dir, 'interhand2.6m'),
        ann_file='test_interhand2.6m_data.json',
        camera_param_file='test_interhand2.6m_camera.json',
        joint_file='test_interhand2.6m_joint_3d.json',
        data_prefix=dict(img=''),
        use_gt_root_depth=True,
        rootnet_result_file=None,
        data_mode='topdown',
        pipeline=[],
        test_mode=True)
    paths, joints = [], []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        paths.append(info['img_path'])
        joints.append(np.concatenate(
            [info['keypoints'][0, :, :2],
             info['keypoints_visible'][0][:, None]], axis=1))
    return paths, joints


@contextmanager
def hasm_predicts(model, hands: bool):
    """Make HASM predict every pixel as hand (``hands``) or none.

    Each mask's 2-class classifier gets zero weights and a bias that makes
    one class win everywhere; restored afterwards.
    """
    convs = model.hasm.decode_head.conv_segs
    saved = copy.deepcopy(convs.state_dict())
    bias = torch.tensor([-1., 1.] if hands else [1., -1.])
    with torch.no_grad():
        for conv in convs:
            conv.weight.zero_()
            conv.bias.copy_(bias)
    try:
        yield
    finally:
        convs.load_state_dict(saved)


def check_instance(sample, name):
    """One 42-joint instance; joints within reach of the two-hand crop.

    The hand crops are cut around HASM's masks, which lie in the two-hand
    crop (``input_center`` +- ``input_scale`` / 2), enlarged x2 around the
    mask box: every joint is within ``input_scale`` of ``input_center``
    (the crop's context window).
    """
    inst = sample.pred_instances
    assert len(inst) == 1, name
    assert inst.keypoints.shape == (1, 42, 3)
    assert inst.keypoints_3d.shape == (1, 42, 3)
    assert inst.keypoint_scores.shape == (1, 42)
    assert inst.hand_type.shape == (1, 2)
    assert np.isfinite(inst.keypoints).all()
    centre = np.asarray(sample.metainfo['input_center'])
    scale = np.asarray(sample.metainfo['input_scale'])
    off = np.abs(inst.keypoints[0, :, :2] - centre)
    # (+ half a two-hand crop pixel: a mask's box reaches half a pixel
    # past the crop's last pixel centres)
    assert (off <= scale * (1 + 1 / 128)).all(), name
    # u, v, z: z is the root-relative depth of keypoints_3d
    np.testing.assert_allclose(inst.keypoints[0, :, 2],
                               inst.keypoints_3d[0, :, 2])
    # the hands' boxes, their union and the placement of the hands
    assert inst.hand_bboxes.shape == (1, 2, 4)
    assert inst.root_cam.shape == (1, 2, 3)
    assert inst.rel_root_depth.shape == (1, )
    # the crops of both hands before/after TDR, for the demo
    assert tuple(sample.hand_crops.shape[:2]) == (2, 3)
    assert sample.tdr_crops.shape == sample.hand_crops.shape


def test_real_frames_boxes_from_joints(inferencer, real_frames, tmp_path):
    paths, joints = real_frames
    with hasm_predicts(inferencer.model, hands=True):
        results = list(inferencer(
            paths,
            keypoints_2d=joints,
            return_datasamples=True,
            vis_out_dir=str(tmp_path / 'vis'),
            pred_out_dir=str(tmp_path / 'pred'),
            kpt_thr=0.))
    assert len(results) == 4
    for path, kpts, res in zip(paths, joints, results):
        (sample, ) = res['predictions']
        check_instance(sample, path)
        assert sample.metainfo['box_source'] == 'keypoints_2d'
        np.testing.assert_array_equal(sample.pred_instances.hand_type,
                                      [[1, 1]])
        # the crop: the box of the valid joints, square, enlarged x2
        box = bbox_of_points(kpts, kpts[:, 2])
        np.testing.assert_allclose(
            sample.metainfo['input_center'], (box[:2] + box[2:]) / 2,
            atol=1e-3)
        side = 2 * np.max(box[2:] - box[:2])
        np.testing.assert_allclose(sample.metainfo['input_scale'],
                                   [side, side], atol=1e-3)
        stem = osp.splitext(osp.basename(path))[0]
        assert osp.getsize(tmp_path / 'vis' / osp.basename(path)) > 0
        with open(tmp_path / 'pred' / f'{stem}.json') as f:
            (pred, ) = json.load(f)
        assert np.shape(pred['keypoints']) == (42, 3)
        assert np.shape(pred['keypoints_3d']) == (42, 3)
        assert np.shape(pred['keypoint_scores']) == (42, )
        assert pred['hand_type'] == [1.0, 1.0]
        assert len(pred['bbox']) == 4
        assert np.shape(pred['hand_bboxes']) == (2, 4)
        assert np.shape(pred['root_cam']) == (2, 3)


def test_generated_frame_box_and_whole_image(inferencer, tmp_path):
    cam = camera(160)
    scene = sample_scene(np.random.default_rng(0), 160, cam, (0.3, 0.6), 0.)
    img, amodal, _ = render_view(scene, cam, 160, scene.background)
    box = bbox_of_mask(amodal['right'] | amodal['left'])
    with hasm_predicts(inferencer.model, hands=True):
        results = list(inferencer(
            [img, img], bboxes=[box, None], return_datasamples=True,
            vis_out_dir=str(tmp_path)))
    boxed, whole = (r['predictions'][0] for r in results)
    check_instance(boxed, 'boxed')
    check_instance(whole, 'whole')
    assert boxed.metainfo['box_source'] == 'bboxes'
    np.testing.assert_allclose(boxed.gt_instances.bboxes[0], box)
    assert whole.metainfo['box_source'] == 'image'
    np.testing.assert_allclose(whole.gt_instances.bboxes[0],
                               [-0.5, -0.5, 159.5, 159.5])
    # the whole image is HASM's crop itself; a hands' box is enlarged x2
    np.testing.assert_allclose(whole.metainfo['input_scale'], [160, 160])
    side = 2 * max(box[2] - box[0], box[3] - box[1])
    np.testing.assert_allclose(boxed.metainfo['input_scale'], [side, side],
                               rtol=1e-5)
    # arrays are named by their index, as mmpose does
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        '000000.jpg', '000001.jpg'
    ]


def test_no_hand_found_gives_empty_result(inferencer, real_frames,
                                          tmp_path):
    path = real_frames[0][0]
    with hasm_predicts(inferencer.model, hands=False):
        (res, ) = list(inferencer(
            path, vis_out_dir=str(tmp_path / 'vis'),
            pred_out_dir=str(tmp_path / 'pred')))
    assert res['predictions'] == [[]]
    assert (tmp_path / 'vis' / osp.basename(path)).is_file()
    stem = osp.splitext(osp.basename(path))[0]
    with open(tmp_path / 'pred' / f'{stem}.json') as f:
        assert json.load(f) == []


def test_bone_length_falls_back_to_bone_length_mm(inferencer, real_frames):
    """No ground truth at inference: bone_length='gt' scales the 3D joints
    by the model's bone_length_mm (doubling it doubles them)."""
    model = inferencer.model
    assert model.bone_length == 'gt'
    paths, joints = real_frames
    path, kpts = paths[1], joints[1]
    keep = model.bone_length_mm
    out = {}
    try:
        with hasm_predicts(model, hands=True):
            for mm in (95., 190.):
                model.set_bone_length('gt', mm)
                (res, ) = list(inferencer(path, keypoints_2d=[kpts]))
                out[mm] = np.asarray(res['predictions'][0][0]['keypoints_3d'])
    finally:
        model.set_bone_length('gt', keep)
    assert np.abs(out[95.]).max() > 0
    np.testing.assert_allclose(out[190.], 2 * out[95.], rtol=1e-4,
                               atol=1e-6)


class FakeDetector:
    """An mmdet ``DetInferencer`` stand-in returning fixed detections."""

    def __init__(self, classes, bboxes, scores, labels):
        self.model = BaseDataElement(dataset_meta=dict(classes=classes))
        self.inst = InstanceData(
            bboxes=torch.tensor(bboxes, dtype=torch.float32),
            scores=torch.tensor(scores), labels=torch.tensor(labels))

    def __call__(self, img, return_datasamples=True):
        return dict(
            predictions=[BaseDataElement(pred_instances=self.inst)])


def _box_of(inferencer, img, **kwargs):
    sample = inferencer.preprocess_single(img, 0, **kwargs)[0]
    return (sample['data_samples'].gt_instances.bboxes[0],
            sample['data_samples'].metainfo['box_source'])


def test_detected_hands_give_the_two_hand_box(inferencer, monkeypatch):
    """A hand-side detector: the best box per side (score > bbox_thr)
    forms the two-hand box; none found: the whole image."""
    monkeypatch.setattr(inferencer, 'detector', FakeDetector(
        ('right', 'left'),
        [[10., 10., 30., 30.], [50., 40., 70., 60.], [0., 0., 5., 5.],
         [80., 80., 90., 90.], [20., 20., 25., 25.]],
        [0.9, 0.8, 0.95, 0.1, 0.5], [0, 0, 1, 1, 0]))
    img = np.zeros((100, 120, 3), np.uint8)
    box, source = _box_of(inferencer, img, bbox_thr=0.3)
    # best right (0.9) and best left (0.95); the 0.1 left is too weak
    assert source == 'detector'
    np.testing.assert_allclose(box, [0, 0, 30, 30])
    # detections outside a smaller image are dropped: the right hand's
    # box lies outside, the left one is taken alone
    box, source = _box_of(inferencer, img[:8, :8], bbox_thr=0.3)
    assert source == 'detector'
    np.testing.assert_allclose(box, [0, 0, 5, 5])
    # user boxes win over the detector
    box, source = _box_of(inferencer, img, bboxes=[1, 2, 3, 4])
    assert source == 'bboxes'
    np.testing.assert_allclose(box, [1, 2, 3, 4])
    # nothing above the threshold: no crash, the whole image
    box, source = _box_of(inferencer, img, bbox_thr=0.99)
    assert source == 'image'


def test_single_class_detector_takes_two_best_hands(inferencer,
                                                    monkeypatch):
    monkeypatch.setattr(inferencer, 'detector', FakeDetector(
        ('hand', ), [[10., 10., 30., 30.], [50., 40., 70., 60.],
                     [0., 0., 5., 5.]], [0.9, 0.8, 0.5], [0, 0, 0]))
    monkeypatch.setattr(inferencer, 'det_cat_ids', (0, ), raising=False)
    box, source = _box_of(inferencer, np.zeros((100, 120, 3), np.uint8))
    assert source == 'detector'
    np.testing.assert_allclose(box, [10, 10, 70, 60])


def test_bad_inputs(inferencer, real_frames, tmp_path):
    path = real_frames[0][0]
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        list(inferencer(missing))
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'this is not a JPEG')
    with pytest.raises(IOError, match='broken.jpg'):
        list(inferencer(str(broken)))
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='no image file in folder'):
        list(inferencer(str(empty)))
    # the frame is 334 x 512
    with pytest.raises(ValueError, match=r'image69148.*outside'):
        list(inferencer(path, bboxes=[[400, 600, 500, 700]]))
    with pytest.raises(ValueError, match='inverted'):
        list(inferencer(path, bboxes=[[100, 100, 50, 150]]))
    with pytest.raises(ValueError, match='one entry per input image'):
        list(inferencer(path, bboxes=[10, 10, 100, 100]))
    with pytest.raises(ValueError, match='no valid joint'):
        list(inferencer(path, keypoints_2d=[np.zeros((42, 3))]))
    with pytest.raises(TypeError, match='image path or array'):
        list(inferencer([3]))
    # a box partly outside the image is clipped to it
    (res, ) = list(inferencer(path, bboxes=[[-50, 400, 100, 600]],
                              return_datasamples=True))
    np.testing.assert_allclose(
        res['predictions'][0].gt_instances.bboxes[0],
        [-0.5, 400, 100, 511.5])


def test_bad_config_or_checkpoint(repo_root, hdr_pipeline_checkpoint,
                                  tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        HDRInferencer(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        HDRInferencer(osp.join(repo_root, CONFIG), str(tmp_path / 'nope.pth'))
    # a stage checkpoint is not a pipeline checkpoint
    stage = osp.join(osp.dirname(hdr_pipeline_checkpoint), 'shpe.pth')
    with pytest.raises(StageCheckpointError,
                       match=f'HDR checkpoint {stage} does not fit the model '
                       'of .*hdr_tiny_synthetic-256x256.py: .* missing key'):
        HDRInferencer(osp.join(repo_root, CONFIG), stage, device='cpu')


def test_runs_from_another_working_directory(repo_root, real_frames,
                                             hdr_pipeline_checkpoint,
                                             tmp_path, monkeypatch):
    """The stage configs are written relative to the project root; the
    stage builder finds them from any working directory."""
    monkeypatch.chdir(tmp_path)
    inf = HDRInferencer(
        osp.join(repo_root, CONFIG), hdr_pipeline_checkpoint, device='cpu')
    assert INFERENCERS.get('HDRInferencer') is HDRInferencer
    (res, ) = list(inf(real_frames[0][0], return_datasamples=True))
    assert 'pred_instances' in res['predictions'][0]
    # 'auto' may have exported ONNX graphs: never into the working folder
    assert not list(tmp_path.iterdir())


def test_refine_box_reruns_on_the_hands(inferencer, real_frames):
    """An image without a box runs again on the box of the hands found in
    it, for any batch size (the boxes come from the model's outputs)."""
    paths = real_frames[0][:3]
    with hasm_predicts(inferencer.model, hands=True):
        first = [p for r in inferencer(
            paths, batch_size=2, return_datasamples=True)
            for p in r['predictions']]
        results = [p for r in inferencer(
            paths, batch_size=2, refine_box=True, return_datasamples=True)
            for p in r['predictions']]
    assert len(results) == 3
    for path, once, sample in zip(paths, first, results):
        check_instance(sample, path)
        assert sample.metainfo['box_source'] == 'hands_found'
        # the second crop is around the hands the first run found
        found = once.pred_instances.bboxes[0]
        np.testing.assert_allclose(sample.gt_instances.bboxes[0][:2],
                                   np.maximum(found[:2], -0.5), atol=1e-3)
        assert sample.metainfo['img_path'] == path


def test_with_an_mmdet_detector(repo_root, real_frames,
                                hdr_pipeline_checkpoint, tmp_path):
    """mmpose's hand detector config plugs in through ``det_model`` with a
    weights file (here random weights saved locally: nothing to
    download); a detector without weights is refused."""
    from mmdet.apis import DetInferencer, init_detector
    from mmengine.utils import get_installed_path

    from hdr_mm.utils import save_mmengine_checkpoint
    det_cfg = osp.join(get_installed_path('mmpose'), '.mim', 'demo',
                       'mmdetection_cfg', 'rtmdet_nano_320-8xb32_hand.py')
    with pytest.raises(ValueError, match='no weights'):
        HDRInferencer(osp.join(repo_root, CONFIG), hdr_pipeline_checkpoint,
                      det_model=det_cfg)
    with pytest.raises(ValueError,
                       match=f'detector weights {hdr_pipeline_checkpoint} '
                       r'given without a detector config \(det_model\)'):
        HDRInferencer(osp.join(repo_root, CONFIG), hdr_pipeline_checkpoint,
                      det_weights=hdr_pipeline_checkpoint)
    # the checkpoint of another model is refused, not loaded non-strictly
    with pytest.raises(CheckpointMismatchError) as e:
        HDRInferencer(osp.join(repo_root, CONFIG), hdr_pipeline_checkpoint,
                      device='cpu', det_model=det_cfg,
                      det_weights=hdr_pipeline_checkpoint)
    assert str(e.value).startswith(
        f'detector checkpoint {hdr_pipeline_checkpoint} does not fit the '
        f'model of {det_cfg}: ')
    assert 'missing key(s) [' in str(e.value)
    weights = str(tmp_path / 'det.pth')
    save_mmengine_checkpoint(
        init_detector(det_cfg, device='cpu').state_dict(), weights)
    inf = HDRInferencer(
        osp.join(repo_root, CONFIG), hdr_pipeline_checkpoint,
        device='cpu', det_model=det_cfg, det_weights=weights)
    assert isinstance(inf.detector, DetInferencer)
    (res, ) = list(inf(real_frames[0][0], bbox_thr=0.,
                       return_datasamples=True))
    sample = res['predictions'][0]
    assert sample.metainfo['box_source'] in ('detector', 'image')
    x1, y1, x2, y2 = sample.gt_instances.bboxes[0]
    assert -0.5 <= x1 < x2 <= 333.5 and -0.5 <= y1 < y2 <= 511.5
