"""A frame's two hands placed in one camera frame: the pipeline's result
from its two SHPE predictions."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

from hdr_mm.datasets.synthetic import camera, sample_scene
from hdr_mm.models.hdr.hand_placement import (frame_camera, place_hands,
                                              place_two_hands,
                                              reference_bone_lengths)
from hdr_mm.structures import INTERHAND_TO_SHPE, default_camera

K = 21


@pytest.fixture(scope='module')
def scene():
    """Two hands in the camera frame (InterHand order, mm) and their
    projection."""
    cam = camera(256)
    scene = sample_scene(np.random.default_rng(4), 256, cam, (0.2, 0.5), 0.)
    fx, fy, cx, cy = cam
    joints = scene.joints.astype(np.float32)
    uv = np.stack([fx * joints[:, 0] / joints[:, 2] + cx,
                   fy * joints[:, 1] / joints[:, 2] + cy], 1)
    return dict(joints=joints, uv=uv.astype(np.float32),
                focal=np.array([fx, fy], np.float32),
                principal_pt=np.array([cx, cy], np.float32))


def _shpe_pred(scene, h, with_3d=True, score=0.9):
    """What SHPE gives for hand ``h`` (0 right, 1 left), SHPE order."""
    joints = scene['joints'][h * K:(h + 1) * K]
    pred = InstanceData(
        keypoints=scene['uv'][h * K:(h + 1) * K][INTERHAND_TO_SHPE][None],
        keypoint_scores=np.full((1, K), score, np.float32))
    if with_3d:
        pred.keypoints_3d = (joints - joints[20])[INTERHAND_TO_SHPE][None]
    return pred


BOXES = np.array([[10, 20, 60, 90], [40, 5, 120, 70]], np.float32)


def test_two_hands_are_placed_in_the_camera_frame(scene):
    preds = [_shpe_pred(scene, 0), _shpe_pred(scene, 1)]
    inst = place_two_hands(preds, np.array([True, True]), BOXES,
                           scene['focal'], scene['principal_pt'])
    joints = scene['joints']
    roots = joints[[20, 41]]
    np.testing.assert_allclose(inst.root_cam[0], roots, rtol=1e-4,
                               atol=0.05)
    np.testing.assert_allclose(inst.rel_root_3d[0], roots[1] - roots[0],
                               atol=0.05)
    assert inst.rel_root_depth[0] == inst.rel_root_3d[0, 2]
    # InterHand2.6M order, right hand first, each hand relative to its
    # own wrist; keypoints: u, v and that relative depth
    rel = np.concatenate([joints[:K] - joints[20], joints[K:] - joints[41]])
    np.testing.assert_allclose(inst.keypoints_3d[0], rel, atol=1e-4)
    np.testing.assert_allclose(inst.keypoints[0, :, :2], scene['uv'],
                               atol=1e-4)
    np.testing.assert_array_equal(inst.keypoints[0, :, 2],
                                  inst.keypoints_3d[0, :, 2])
    np.testing.assert_array_equal(inst.hand_type, [[1, 1]])
    np.testing.assert_allclose(inst.keypoint_scores, 0.9)
    np.testing.assert_array_equal(inst.hand_bboxes[0], BOXES)
    np.testing.assert_array_equal(inst.bboxes, [[10, 5, 120, 90]])
    assert all(v.dtype == np.float32 for v in inst.values())


def test_depth_gap_is_between_the_palm_centres(scene):
    """With ``depth_gap`` the two hands share one depth unknown: their palm
    centres (wrist and middle MCP midway) that far apart, the wrists
    offset from them as the predicted 3D joints say."""
    joints = scene['joints']
    centres = np.stack([joints[:K][[20, 11]].mean(0),
                        joints[K:][[20, 11]].mean(0)])
    gap = float(centres[1, 2] - centres[0, 2])
    wrist_gap = float(joints[41, 2] - joints[20, 2])
    assert abs(gap - wrist_gap) > 5  # the two readings differ here
    preds = [_shpe_pred(scene, 0), _shpe_pred(scene, 1)]
    inst = place_two_hands(preds, np.array([True, True]), BOXES,
                           scene['focal'], scene['principal_pt'],
                           depth_gap=gap)
    np.testing.assert_allclose(inst.root_cam[0], joints[[20, 41]],
                               rtol=1e-4, atol=0.05)
    assert inst.rel_root_depth[0] == pytest.approx(wrist_gap, abs=0.05)
    # the wrists' gap given as the palm centres' misplaces them
    off = place_two_hands(preds, np.array([True, True]), BOXES,
                          scene['focal'], scene['principal_pt'],
                          depth_gap=wrist_gap)
    assert abs(off.rel_root_depth[0] - wrist_gap) > 5


def test_absent_hand_and_2d_shpe(scene):
    preds = [_shpe_pred(scene, 0), _shpe_pred(scene, 1)]
    inst = place_two_hands(preds, np.array([True, False]),
                           BOXES * [[1], [0]], scene['focal'],
                           scene['principal_pt'])
    np.testing.assert_array_equal(inst.hand_type, [[1, 0]])
    assert not inst.keypoint_scores[0, K:].any()
    assert np.isfinite(inst.root_cam[0, 0]).all()
    assert np.isnan(inst.root_cam[0, 1]).all()
    assert not inst.rel_root_3d.any() and inst.rel_root_depth[0] == 0
    np.testing.assert_array_equal(inst.bboxes, BOXES[:1])
    # a 2D-only SHPE: 2D joints, nothing placed
    flat = [_shpe_pred(scene, h, with_3d=False) for h in range(2)]
    inst = place_two_hands(flat, np.array([True, True]), BOXES,
                           scene['focal'], scene['principal_pt'])
    assert inst.keypoints.shape == (1, 2 * K, 2)
    assert 'keypoints_3d' not in inst
    assert np.isnan(inst.root_cam).all()
    # no hand at all
    inst = place_two_hands(preds, np.array([False, False]),
                           np.zeros((2, 4), np.float32), scene['focal'],
                           scene['principal_pt'])
    assert not inst.bboxes.any() and not inst.keypoint_scores.any()


def test_batch_rows_pair_each_frames_hands(scene, monkeypatch):
    """Rows right_0..right_N-1, left_0..left_N-1; each frame its own
    camera."""
    n = 3
    samples = [PoseDataSample(metainfo=dict(
        focal=scene['focal'] * (i + 1), principal_pt=scene['principal_pt']))
        for i in range(n)]
    preds = [_shpe_pred(scene, h, score=0.1 * (h * n + i + 1))
             for h in range(2) for i in range(n)]
    present = torch.tensor([True, False, True, True, True, False])
    boxes = torch.as_tensor(np.tile(BOXES, (n, 1)))
    seen = []

    def spy(pair, pres, bxs, focal, principal_pt, depth_gap=None):
        seen.append((pair, pres.tolist(), float(focal[0])))
        return 'frame'

    monkeypatch.setattr('hdr_mm.models.hdr.hand_placement.place_two_hands',
                        spy)
    assert place_hands(preds, present, boxes, samples) == ['frame'] * n
    for i, (pair, pres, fx) in enumerate(seen):
        assert pair[0] is preds[i] and pair[1] is preds[n + i]
        assert pres == [bool(present[i]), bool(present[n + i])]
        assert fx == pytest.approx(scene['focal'][0] * (i + 1))


def test_frame_camera():
    focal, pp = frame_camera(dict(focal=[500., 510.],
                                  principal_pt=(100., 80.)))
    np.testing.assert_array_equal(focal, [500, 510])
    np.testing.assert_array_equal(pp, [100, 80])
    assert focal.dtype == pp.dtype == np.float32
    for meta, shape in ((dict(frame_shape=(300, 400), ori_shape=(10, 10)),
                         (300, 400)), (dict(ori_shape=(60, 80)), (60, 80)),
                        (dict(focal=[500., 500.], ori_shape=(60, 80)),
                         (60, 80))):
        for got, want in zip(frame_camera(meta), default_camera(shape)):
            np.testing.assert_array_equal(got, want)


def test_reference_bone_lengths():
    """The wrist (20, 41) to middle-MCP (11, 32) length of each hand
    with ground truth, rows right hands then left hands; 0 otherwise."""
    kpts = np.zeros((1, 2 * K, 3), np.float32)
    kpts[0, 11] = [0, 30, 40]  # right middle MCP: 50 mm from its wrist
    kpts[0, 41] = [10, 0, 0]
    kpts[0, 32] = [10, 0, 80]  # left: 80 mm
    with_gt = PoseDataSample()
    with_gt.gt_instances = InstanceData(keypoints_cam=kpts)
    hidden = PoseDataSample()
    vis = np.ones((1, 2 * K), np.float32)
    vis[0, 32] = 0  # the left middle MCP is not annotated
    hidden.gt_instances = InstanceData(keypoints_cam=kpts,
                                       keypoints_visible=vis)
    bones = reference_bone_lengths([with_gt, PoseDataSample(), hidden])
    assert bones.dtype == np.float32
    np.testing.assert_allclose(bones, [50, 0, 50, 80, 0, 0])
