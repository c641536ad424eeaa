import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from hdr_mm.datasets import SingleHand3DDataset

PIPELINE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='TopdownAffine', input_size=(256, 256)),
    dict(type='MirrorHandCrop'),
    dict(type='GenerateTarget', encoder=dict(type='DetNetHandCodec')),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'input_size', 'input_center',
                    'input_scale', 'mirrored', 'interacting', 'hand_side')),
]


def build(data_root, pipeline=PIPELINE):
    init_default_scope('mmpose')
    return SingleHand3DDataset(
        data_root=data_root,
        ann_file='test_interhand2.6m_data.json',
        camera_param_file='test_interhand2.6m_camera.json',
        joint_file='test_interhand2.6m_joint_3d.json',
        data_prefix=dict(img=''),
        pipeline=pipeline)


def test_one_instance_per_valid_hand(test_data_dir):
    ds = build(osp.join(test_data_dir, 'interhand2.6m'))
    # 2 interacting frames (2 hands each), 1 left, 1 right
    assert len(ds) == 6
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert sum(i['interacting'] for i in infos) == 4
    assert sum(i['mirrored'] for i in infos) == 3
    assert ds.metainfo['num_keypoints'] == 21
    for info in infos:
        assert info['keypoints'].shape == (1, 21, 2)
        assert info['keypoints_cam'].shape == (1, 21, 3)
        np.testing.assert_array_equal(info['keypoints_cam'][0, 0], 0)
        x0, y0, x1, y1 = info['bbox'][0]
        vis = info['keypoints_visible'][0] > 0
        k = info['keypoints'][0][vis]
        assert (k[:, 0] >= x0).all() and (k[:, 0] <= x1).all()
        assert (k[:, 1] >= y0).all() and (k[:, 1] <= y1).all()
        # wrist to middle MCP is a real hand bone (5-15 cm)
        assert 50 < np.linalg.norm(info['keypoints_cam'][0, 9]) < 150


def test_pipeline_mirrors_left_hands(test_data_dir):
    ds = build(osp.join(test_data_dir, 'interhand2.6m'))
    for i in range(len(ds)):
        out = ds[i]
        sample = out['data_samples']
        assert out['inputs'].shape == (3, 256, 256)
        labels = sample.gt_instance_labels
        assert sample.gt_fields.heatmaps.shape == (21, 64, 64)
        assert labels.keypoint_weights.sum() > 10
        ref = float(labels.ref_bone_length[0])
        cam = sample.gt_instances.keypoints_cam[0]
        assert ref == pytest.approx(np.linalg.norm(cam[9]), rel=1e-5)
        # location targets are in the crop's frame: x negated for left
        sign = -1 if sample.metainfo['mirrored'] else 1
        w = labels.location_weights[0].numpy() > 0
        loc = labels.location_targets[0].numpy()
        np.testing.assert_allclose(loc[w, 0] * ref, sign * cam[w, 0],
                                   rtol=1e-4, atol=1e-3)
        # heat map peaks lie where the joints are, in the (mirrored) crop
        hm = sample.gt_fields.heatmaps.numpy()
        j = 9
        y, x = np.unravel_index(hm[j].argmax(), hm[j].shape)
        kp = sample.gt_instances.keypoints[0, j]
        c, s = sample.metainfo['input_center'], sample.metainfo['input_scale']
        u = (kp - c) / s * 256 + 128  # image -> crop pixels
        if sample.metainfo['mirrored']:
            u[0] = 255 - u[0]
        assert np.abs(np.array([x, y]) * 4 - u).max() <= 2.5


def _synthetic(root, split='train', **kwargs):
    init_default_scope('mmpose')
    ann = f'annotations/{split}/InterHand2.6M_{split}'
    return SingleHand3DDataset(
        data_root=str(root / 'interhand2.6m'),
        ann_file=ann + '_data.json',
        camera_param_file=ann + '_camera.json',
        joint_file=ann + '_joint_3d.json',
        data_prefix=dict(img=f'images/{split}/'),
        **kwargs)


def test_alone_img_prefix_reads_single_hand_renders(synthetic_root):
    frames = _synthetic(synthetic_root)
    alone = _synthetic(synthetic_root, alone_img_prefix='images_alone/train/')
    assert len(frames) == len(alone)
    n_alone = 0
    for i in range(len(frames)):
        a, f = alone.get_data_info(i), frames.get_data_info(i)
        assert a['id'] == f['id']
        np.testing.assert_array_equal(a['keypoints'], f['keypoints'])
        if a['interacting']:
            stem = osp.splitext(f['img_path'].replace(
                'images/train', 'images_alone/train'))[0]
            assert a['img_path'] == f'{stem}_{a["hand_side"]}.jpg'
            assert osp.isfile(a['img_path'])
            n_alone += 1
        else:
            assert a['img_path'] == f['img_path']
    assert n_alone > 0


def test_alone_img_prefix_missing_render(synthetic_root, tmp_path):
    import shutil
    root = tmp_path / 'hands'
    shutil.copytree(synthetic_root / 'interhand2.6m', root / 'interhand2.6m')
    victim = sorted((root / 'interhand2.6m/images_alone/train').rglob(
        '*_left.jpg'))[0]
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=victim.name):
        _synthetic(root, alone_img_prefix='images_alone/train/')


def test_box_mask_prefix_crops_by_the_amodal_mask(synthetic_root):
    """The crop box is the hand's amodal mask box (what the HDR pipeline
    crops by); ``bbox`` stays the joints' box (PCK's scale)."""
    from mmpose.structures.bbox import bbox_xyxy2cs

    from hdr_mm.datasets.image_io import read_mask
    from hdr_mm.structures import bbox_of_mask
    joints = _synthetic(synthetic_root)
    masked = _synthetic(synthetic_root, box_mask_prefix='masks/train/')
    assert len(joints) == len(masked)
    ratios = []
    for i in range(len(joints)):
        a, j = masked.get_data_info(i), joints.get_data_info(i)
        np.testing.assert_array_equal(a['bbox'], j['bbox'])
        assert 'bbox_center' not in j
        stem = osp.splitext(a['img_path'].replace('images/train',
                                                  'masks/train'))[0]
        mask = read_mask(f'{stem}_{a["hand_side"][0]}_amodal.png')
        center, scale = bbox_xyxy2cs(bbox_of_mask(mask)[None])
        np.testing.assert_allclose(a['bbox_center'], center)
        np.testing.assert_allclose(a['bbox_scale'], scale)
        # the amodal silhouette encloses the joints: its box is larger
        ratios.append(scale.max() / np.ptp(a['bbox'].reshape(2, 2),
                                           axis=0).max())
    assert min(ratios) > 1.0


def test_box_mask_prefix_errors_name_the_mask(synthetic_root, tmp_path):
    import shutil

    import cv2
    root = tmp_path / 'hands'
    shutil.copytree(synthetic_root / 'interhand2.6m', root / 'interhand2.6m')
    masks = sorted((root / 'interhand2.6m/masks/train').rglob(
        '*_r_amodal.png'))
    masks[0].unlink()
    with pytest.raises(FileNotFoundError, match=masks[0].name):
        _synthetic(root, box_mask_prefix='masks/train/')
    shutil.copy(masks[2], masks[0])
    cv2.imwrite(str(masks[1]), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=f'{masks[1].name} is empty'):
        _synthetic(root, box_mask_prefix='masks/train/')
    cv2.imwrite(str(masks[1]), np.full((8, 8), 7, np.uint8))
    with pytest.raises(ValueError, match=f'{masks[1].name} has values'):
        _synthetic(root, box_mask_prefix='masks/train/')
