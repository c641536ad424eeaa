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
from mmengine.structures import BaseDataElement, InstanceData, PixelData
from mmpose.datasets import InterHand3DDataset
from mmpose.registry import INFERENCERS
from mmpose.structures import PoseDataSample

from hdr_mm.apis import HDRInferencer, clip_box, keypoints_box, union_box
from hdr_mm.datasets.synthetic import (camera, mask_bbox, render_view,
                                       sample_scene)
from hdr_mm.models.hdr import StageCheckpointError

CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


@pytest.fixture(scope='module')
def inferencer(repo_root, hdr_pipeline_checkpoint):
    return HDRInferencer(
        osp.join(repo_root, CONFIG), hdr_pipeline_checkpoint, device='cpu')


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

    The hand crops are cut inside HASM's masks, which lie in the two-hand
    crop (``input_center`` +- ``input_scale`` / 2), enlarged x2 around the
    mask box: every joint is within ``input_scale`` of ``input_center``.
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
    assert (off <= scale + 1).all(), name
    # u, v, z: z is the root-relative depth of keypoints_3d
    np.testing.assert_allclose(inst.keypoints[0, :, 2],
                               inst.keypoints_3d[0, :, 2])
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
        # the crop: the box of the visible joints, square, enlarged x2
        box = keypoints_box(kpts)
        np.testing.assert_allclose(
            sample.metainfo['input_center'], (box[:2] + box[2:]) / 2,
            atol=0.5)
        side = 2 * (np.max(box[2:] - box[:2]) + 1)
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


def test_generated_frame_box_and_whole_image(inferencer, tmp_path):
    cam = camera(160)
    scene = sample_scene(np.random.default_rng(0), 160, cam, (0.3, 0.6), 0.)
    img, amodal, _ = render_view(scene, cam, 160, scene.background)
    box = mask_bbox(amodal['right'] | amodal['left']).astype(np.float32)
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
                               [0, 0, 160, 160])
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
                model.bone_length_mm = mm
                (res, ) = list(inferencer(path, keypoints_2d=[kpts]))
                out[mm] = np.asarray(res['predictions'][0][0]['keypoints_3d'])
    finally:
        model.bone_length_mm = keep
    assert np.abs(out[95.]).max() > 0
    np.testing.assert_allclose(out[190.], 2 * out[95.], rtol=1e-4,
                               atol=1e-6)


def test_union_of_detected_hand_boxes(inferencer, monkeypatch):
    """With a detector, the two best hand boxes (score > bbox_thr, hand
    category) form the two-hand box."""

    class FakeDetector:

        def __call__(self, img, return_datasamples=True):
            inst = InstanceData(
                bboxes=torch.tensor([[10., 10., 30., 30.],
                                     [50., 40., 70., 60.],
                                     [0., 0., 5., 5.],
                                     [80., 80., 90., 90.],
                                     [20., 20., 25., 25.]]),
                scores=torch.tensor([0.9, 0.8, 0.95, 0.1, 0.5]),
                labels=torch.tensor([0, 0, 1, 0, 0]))
            return dict(predictions=[BaseDataElement(pred_instances=inst)])

    monkeypatch.setattr(inferencer, 'detector', FakeDetector())
    monkeypatch.setattr(inferencer, 'det_cat_ids', (0, ))
    img = np.zeros((100, 120, 3), np.uint8)
    box, source = inferencer.hand_box(img, 'frame', bbox_thr=0.3)
    assert source == 'detector'
    np.testing.assert_allclose(box, [10, 10, 70, 60])
    # detections outside a smaller image are dropped: whole image
    box, source = inferencer.hand_box(img[:8, :8], 'frame', bbox_thr=0.3)
    assert source == 'image'
    np.testing.assert_allclose(box, [0, 0, 8, 8])
    # user boxes win over the detector
    box, source = inferencer.hand_box(img, 'frame', bboxes=[1, 2, 3, 4])
    assert source == 'bboxes'
    np.testing.assert_allclose(box, [1, 2, 3, 4])


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
        res['predictions'][0].gt_instances.bboxes[0], [0, 400, 100, 512])


def test_bad_config_or_checkpoint(repo_root, hdr_pipeline_checkpoint,
                                  tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        HDRInferencer(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        HDRInferencer(osp.join(repo_root, CONFIG), str(tmp_path / 'nope.pth'))
    # a stage checkpoint is not a pipeline checkpoint
    stage = osp.join(osp.dirname(hdr_pipeline_checkpoint), 'shpe.pth')
    with pytest.raises(StageCheckpointError, match='missing key'):
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


def test_box_helpers():
    np.testing.assert_allclose(
        union_box(np.array([[0, 5, 10, 20, 0.9], [4, 1, 8, 30, 0.5]])),
        [0, 1, 10, 30])
    kpts = np.array([[5, 6, 1], [20, 30, 1], [-900, 2, 0]], np.float32)
    np.testing.assert_allclose(keypoints_box(kpts), [5, 6, 20, 30])
    np.testing.assert_allclose(keypoints_box(kpts[None, :2, :2]),
                               [5, 6, 20, 30])
    np.testing.assert_allclose(
        clip_box([-10, 5, 50, 200], 40, 100, 'img'), [0, 5, 40, 100])
    with pytest.raises(ValueError, match='img.*outside'):
        clip_box([50, 5, 60, 10], 40, 100, 'img')
    with pytest.raises(ValueError, match='4 finite numbers'):
        clip_box([0, 0, np.nan, 1], 40, 100, 'img')


def test_mask_box_maps_crop_pixels_to_image(inferencer):
    """The box of the found hands' amodal masks, from two-hand crop pixels
    to image pixels as TopdownAffine maps them."""
    sample = PoseDataSample(metainfo=dict(
        mask_names=('l_amodal', 'l_visible', 'r_amodal', 'r_visible'),
        input_center=np.array([100., 50.]),
        input_scale=np.array([64., 64.])))
    masks = torch.zeros(4, 32, 32)
    masks[2, 8:16, 4:12] = 1  # right amodal: x 4..12, y 8..16 (crop px)
    masks[0, 20:24, 20:30] = 1  # left amodal
    sample.pred_fields = PixelData(hand_masks=masks)
    sample.pred_instances = InstanceData(hand_type=np.array([[1., 0.]]))
    # crop pixel p -> centre + (p - 16) * 64 / 32; the left hand is absent
    np.testing.assert_allclose(inferencer._mask_box(sample),
                               [76, 34, 92, 50])
    sample.pred_instances.hand_type = np.array([[1., 1.]])
    np.testing.assert_allclose(inferencer._mask_box(sample),
                               [76, 34, 128, 66])
    sample.pred_instances.hand_type = np.array([[0., 0.]])
    assert inferencer._mask_box(sample) is None


def test_refine_box_reruns_on_the_hands(inferencer, real_frames):
    path = real_frames[0][0]
    with hasm_predicts(inferencer.model, hands=True):
        (res, ) = list(inferencer(path, refine_box=True,
                                  return_datasamples=True))
    (sample, ) = res['predictions']
    check_instance(sample, path)
    # every crop pixel is "hand": the masks' box is the whole crop, twice
    # the image, clipped back to the 334 x 512 image
    assert sample.metainfo['box_source'] == 'hand_masks'
    np.testing.assert_allclose(sample.gt_instances.bboxes[0],
                               [0, 0, 334, 512], atol=1)


def test_with_an_mmdet_detector(repo_root, real_frames,
                                hdr_pipeline_checkpoint):
    """mmpose's hand detector config (random weights: nothing to download)
    plugs in through ``det_model``; its boxes are clipped to the image."""
    from mmdet.apis import DetInferencer
    from mmengine.utils import get_installed_path
    det_cfg = osp.join(get_installed_path('mmpose'), '.mim', 'demo',
                       'mmdetection_cfg', 'rtmdet_nano_320-8xb32_hand.py')
    inf = HDRInferencer(
        osp.join(repo_root, CONFIG), hdr_pipeline_checkpoint,
        device='cpu', det_model=det_cfg)
    assert isinstance(inf.detector, DetInferencer)
    (res, ) = list(inf(real_frames[0][0], bbox_thr=0.,
                       return_datasamples=True))
    sample = res['predictions'][0]
    assert sample.metainfo['box_source'] in ('detector', 'image')
    x1, y1, x2, y2 = sample.gt_instances.bboxes[0]
    assert 0 <= x1 < x2 <= 334 and 0 <= y1 < y2 <= 512
