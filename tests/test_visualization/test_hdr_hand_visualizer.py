"""HDRHandVisualizer: the HDR panel (masks and 2D joints on the image,
hand crops, one 3D axis per hand, both hands in the camera frame),
rendered headless."""
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from mmengine.structures import PixelData
from mmengine.structures import InstanceData
from mmpose.datasets import InterHand3DDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.structures import PoseDataSample

from hdr_mm.datasets.synthetic import camera, sample_scene
from hdr_mm.structures import HAND_MASK_NAMES
from hdr_mm.visualization import (HDRHandVisualizer, draw_hand_3d,
                                  figure_to_rgb, hand_links,
                                  masks_over_image)


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
    roots = scene.joints[[20, 41]].astype(np.float32)
    roots[np.asarray(hand_type) == 0] = np.nan
    sample = PoseDataSample(metainfo=dict(
        mask_names=HAND_MASK_NAMES, input_center=np.array([40., 60.]),
        input_scale=np.array([100., 100.]), input_size=(32, 32)))
    sample.pred_instances = InstanceData(
        keypoints=np.concatenate([uv, xyz[:, 2:]], 1)[None],
        keypoints_3d=xyz[None],
        keypoint_scores=np.ones((1, 42), np.float32),
        hand_type=np.asarray([hand_type], np.float32),
        hand_bboxes=np.array([[[10, 10, 40, 60], [30, 40, 70, 110]]],
                             np.float32),
        root_cam=roots[None])
    masks = torch.zeros(4, 32, 32)
    masks[:, 8:20, 8:20] = 1
    sample.pred_fields = PixelData(hand_masks=masks)
    rng = np.random.default_rng(0)
    sample.hand_crops = torch.from_numpy(
        rng.integers(0, 255, (2, 3, 16, 16), dtype=np.uint8))
    sample.tdr_crops = sample.hand_crops.clone()
    return sample


def coloured(part):
    """Pixels that are neither grey nor white (skeleton colours)."""
    return (part.max(axis=2).astype(int) - part.min(axis=2) > 60).sum()


def region(panel, rows, cols):
    """Part of the 13 x 6.5 inch panel: rows in thirds, columns in the
    grid's five columns (widths 1.2, 1.2, 1, 1, 1)."""
    h, w = panel.shape[:2]
    edges = np.cumsum([0, 1.2, 1.2, 1, 1, 1]) / 5.4
    x0 = int((0.01 + 0.98 * edges[cols[0]]) * w) + 5
    x1 = int((0.01 + 0.98 * edges[cols[1]]) * w) - 5
    y0, y1 = int(rows[0] / 3 * h) + 20, int(rows[1] / 3 * h) - 5
    return panel[y0:y1, x0:x1]


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


def test_panel_shows_masks_skeletons_crops_and_3d(visualizer):
    image = np.full((120, 80, 3), 40, np.uint8)
    panel = visualizer.add_datasample('both', image, hand_sample(),
                                      out_file=None)
    assert panel.shape == (650, 1300, 3)
    # the image with masks and 2D skeletons, each hand's 3D, both placed
    assert coloured(region(panel, (0, 3), (0, 2))) > 500
    assert coloured(region(panel, (0, 1), (4, 5))) > 20
    assert coloured(region(panel, (1, 2), (4, 5))) > 20
    assert coloured(region(panel, (2, 3), (2, 5))) > 20
    # a hand not found leaves its axis empty, and is not placed
    panel = visualizer.add_datasample('right only', image,
                                      hand_sample((1., 0.)))
    assert coloured(region(panel, (1, 2), (4, 5))) == 0
    assert coloured(region(panel, (0, 1), (4, 5))) > 20
    # skeletons are drawn thick enough to read at the panel's size
    assert visualizer.line_width >= 2


def test_masks_over_image():
    image = np.full((120, 80, 3), 100, np.uint8)
    masks = np.zeros((4, 32, 32), np.uint8)
    masks[HAND_MASK_NAMES.index('r_amodal'), 0:16, 0:16] = 1
    # the crop of side 100 around (40, 60): crop pixel p -> image pixel
    # 40 + (p - 16) * 100 / 32, so the mask covers x < 40, y < 60
    out = masks_over_image(image, masks, HAND_MASK_NAMES, (40., 60.), 100.)
    r, g, b = out[30, 20].astype(int)
    assert r > 150 and r > b + 30  # reddish
    assert (out[90, 60] == 100).all()  # untouched


def test_empty_prediction_draws_without_error(visualizer):
    image = np.zeros((64, 64, 3), np.uint8)
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(
        keypoints=np.zeros((0, 42, 3)), keypoints_3d=np.zeros((0, 42, 3)),
        keypoint_scores=np.zeros((0, 42)), hand_type=np.zeros((0, 2)))
    out = visualizer.add_datasample(
        'empty', image, data_sample=sample, det_data_sample=sample,
        draw_gt=False, convert_keypoint=False)
    assert out.shape == (650, 1300, 3)
