"""HDRHandVisualizer: mmpose's 2D drawing plus one 3D axis per hand,
rendered headless."""
import numpy as np
import pytest
from matplotlib.figure import Figure
from mmengine.structures import InstanceData
from mmpose.datasets import InterHand3DDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.structures import PoseDataSample

from hdr_mm.datasets.synthetic import camera, sample_scene
from hdr_mm.visualization import (HDRHandVisualizer, draw_hand_3d,
                                  figure_to_rgb, hand_links)


@pytest.fixture(scope='module')
def meta():
    return parse_pose_metainfo(InterHand3DDataset.METAINFO)


@pytest.fixture(scope='module')
def visualizer(meta):
    vis = HDRHandVisualizer(name='test_hdr_hand_visualizer')
    vis.set_dataset_meta(meta)
    return vis


def hand_sample(hand_type=(1., 1.)) -> PoseDataSample:
    """Both hands of a generated scene, each relative to its wrist
    (InterHand index 20 / 41), as HDR outputs them."""
    cam = camera(128)
    scene = sample_scene(np.random.default_rng(1), 128, cam, (0.2, 0.4), 0.)
    xyz = scene.joints.astype(np.float32).copy()
    xyz[:21] -= xyz[20]
    xyz[21:] -= xyz[41]
    uv = np.stack([np.linspace(10, 70, 42), np.linspace(10, 110, 42)], 1)
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(
        keypoints=np.concatenate([uv, xyz[:, 2:]], 1)[None],
        keypoints_3d=xyz[None],
        keypoint_scores=np.ones((1, 42), np.float32),
        hand_type=np.asarray([hand_type], np.float32))
    return sample


def test_hand_links_form_one_tree_per_hand(meta):
    for hand in (0, 1):
        links, which = hand_links(meta['skeleton_links'], hand)
        # 21 joints joined by 20 bones, all of this hand
        assert links.shape == (20, 2) and len(which) == 20
        assert links.min() >= 0 and links.max() <= 20
        parent = list(range(21))

        def find(i):
            while parent[i] != i:
                i = parent[i]
            return i

        for i, j in links:
            parent[find(i)] = find(j)
        assert len({find(i) for i in range(21)}) == 1


def test_figure_to_rgb_size():
    fig = Figure(figsize=(2, 1), dpi=50)
    img = figure_to_rgb(fig)
    assert img.shape == (50, 100, 3) and img.dtype == np.uint8


def test_cube_keeps_true_scale():
    """Equal axes: the cube side is the hand's span (+10 %), at least
    ``min_extent`` so a tiny hand is not blown up."""
    links = np.array([[0, 1]])
    for span, side in ((300., 330.), (50., 200.)):
        fig = Figure()
        ax = fig.add_subplot(projection='3d')
        joints = np.zeros((21, 3))
        joints[1, 0] = span
        draw_hand_3d(ax, joints, np.ones(21, bool), links, min_extent=200.)
        lo, hi = ax.get_xlim3d()
        assert hi - lo == pytest.approx(side)


def test_add_datasample_draws_2d_and_both_hands(visualizer):
    image = np.full((120, 80, 3), 40, np.uint8)
    sample = hand_sample()
    pose2d = PoseDataSample()
    pose2d.pred_instances = InstanceData(
        keypoints=sample.pred_instances.keypoints[..., :2],
        keypoint_scores=sample.pred_instances.keypoint_scores)
    out = visualizer.add_datasample(
        'both', image, data_sample=sample, det_data_sample=pose2d,
        draw_gt=False, convert_keypoint=False, axis_limit=200.)
    # the 2D image is padded to the 3D view's square (the longer side)
    assert out.shape == (120, 240, 3)
    assert (out[:, :120] != 40).any(axis=2).sum() > 100  # skeleton drawn
    view = out[:, 120:]
    top, bottom = view[:60], view[60:]

    def coloured(part):  # pixels that are neither grey nor white
        return (part.max(axis=2).astype(int) - part.min(axis=2) > 60).sum()

    assert coloured(top) > 20 and coloured(bottom) > 20
    # a hand not found leaves its axis empty
    out = visualizer.add_datasample(
        'right only', image, data_sample=hand_sample((1., 0.)),
        det_data_sample=pose2d, draw_gt=False, convert_keypoint=False)
    assert coloured(out[60:, 120:]) == 0
    assert coloured(out[:60, 120:]) > 20


def test_empty_prediction_draws_without_error(visualizer):
    image = np.zeros((64, 64, 3), np.uint8)
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(
        keypoints=np.zeros((0, 42, 3)), keypoints_3d=np.zeros((0, 42, 3)),
        keypoint_scores=np.zeros((0, 42)), hand_type=np.zeros((0, 2)))
    out = visualizer.add_datasample(
        'empty', image, data_sample=sample, det_data_sample=sample,
        draw_gt=False, convert_keypoint=False)
    assert out.shape == (64, 128, 3)
