"""HandAmodalSegDataset and the HASM transforms on hand-made frames."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import hdr_mm  # noqa: F401

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='mmseg.LoadHandAmodalMasks'),
    dict(type='mmseg.CropBothHands', out_size=64, box_scale=2.0),
    dict(type='mmseg.PackHandSegInputs'),
]
# Right hand: rows 40..79, cols 40..79; left hand: rows 60..99,
# cols 60..99, in front. Union box: 40..100 (60 px) -> crop side 120.
R_BOX, L_BOX = (40, 80, 40, 80), (60, 100, 60, 100)


def write_frame(root, split, name, size=160, r_box=R_BOX, l_box=L_BOX):
    """Write one frame with its three masks in the generated-data layout."""
    rel = f'Capture0/synthetic_interacting/cam0/{name}'
    img_dir = osp.join(root, 'interhand2.6m/images', split, osp.dirname(rel))
    mask_dir = osp.join(root, 'interhand2.6m/masks', split, osp.dirname(rel))
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(mask_dir, exist_ok=True)
    r = np.zeros((size, size), np.uint8)
    l_ = np.zeros((size, size), np.uint8)
    r[r_box[0]:r_box[1], r_box[2]:r_box[3]] = 1
    l_[l_box[0]:l_box[1], l_box[2]:l_box[3]] = 1
    rl = np.where(l_ == 1, 2, r).astype(np.uint8)  # left hand in front
    img = np.full((size, size, 3), 30, np.uint8)
    img[r == 1] = (0, 0, 200)
    img[l_ == 1] = (0, 200, 0)
    base = osp.basename(rel)
    cv2.imwrite(osp.join(img_dir, base + '.jpg'), img)
    paths = {}
    for key, m in (('r_amodal', r), ('l_amodal', l_), ('rl_visible', rl)):
        paths[key] = osp.join(mask_dir, f'{base}_{key}.png')
        cv2.imwrite(paths[key], m)
    return paths


def build(root, split='train', pipeline=PIPELINE):
    init_default_scope('mmpose')
    return DATASETS.build(
        dict(type='mmseg.HandAmodalSegDataset', data_root=str(root),
             split=split, pipeline=pipeline))


def test_dataset_produces_four_targets_on_the_crop(tmp_path):
    write_frame(tmp_path, 'train', 'image0')
    write_frame(tmp_path, 'train', 'image1')
    write_frame(tmp_path, 'val', 'image0')
    ds = build(tmp_path)
    assert len(ds) == 2
    assert ds.get_data_info(0)['img_path'].endswith(
        'images/train/Capture0/synthetic_interacting/cam0/image0.jpg')
    item = ds[0]
    inputs, sample = item['inputs'], item['data_samples']
    assert inputs.shape == (3, 64, 64) and inputs.dtype == torch.uint8
    gt = sample.gt_sem_seg.data
    assert gt.shape == (4, 64, 64)
    assert sample.mask_names == ('l_amodal', 'l_visible', 'r_amodal',
                                 'r_visible')
    assert sample.ori_shape == (64, 64) and sample.frame_shape == (160, 160)
    # Crop: centre 70, side 2 * 60 = 120 -> scale 64 / 120; frame pixel
    # p maps to (p - 10) * 64 / 120.
    s = 64 / 120
    area = 40 * 40 * s * s
    l_am, l_vis, r_am, r_vis = (gt[k].sum().item() for k in range(4))
    assert abs(l_am - area) < 0.1 * area
    assert l_vis == l_am  # left hand in front: fully visible
    assert abs(r_am - area) < 0.1 * area
    hidden = 20 * 20 * s * s  # overlap 60..80 x 60..80
    assert abs((r_am - r_vis) - hidden) < 0.2 * hidden
    # Left visible pixels are exactly the left amodal ones; right visible is
    # right amodal minus the left hand.
    assert torch.equal(gt[1], gt[0])
    assert torch.equal(gt[3], gt[2] * (1 - gt[0]))
    # The masks sit where the crop geometry puts them.
    ys, xs = torch.nonzero(gt[2], as_tuple=True)
    assert abs(ys.min().item() - (40 - 10) * s) <= 1
    assert abs(xs.max().item() + 1 - (80 - 10) * s) <= 1
    assert build(tmp_path, split='val').__len__() == 1


def test_bad_label_values_name_the_file(tmp_path):
    paths = write_frame(tmp_path, 'train', 'image0')
    m = cv2.imread(paths['r_amodal'], cv2.IMREAD_UNCHANGED)
    m[0, 0] = 255
    cv2.imwrite(paths['r_amodal'], m)
    ds = build(tmp_path)
    with pytest.raises(ValueError, match=r'image0_r_amodal\.png.*\[255\]'):
        ds[0]


def test_bad_rl_visible_values(tmp_path):
    paths = write_frame(tmp_path, 'train', 'image0')
    m = cv2.imread(paths['rl_visible'], cv2.IMREAD_UNCHANGED)
    m[5, 5] = 3
    cv2.imwrite(paths['rl_visible'], m)
    with pytest.raises(ValueError, match=r'image0_rl_visible\.png.*\[3\]'):
        build(tmp_path)[0]


def test_corrupt_label_file_names_it(tmp_path):
    paths = write_frame(tmp_path, 'train', 'image0')
    with open(paths['rl_visible'], 'wb') as f:
        f.write(b'\x89PNG truncated')
    with pytest.raises(IOError, match=r'cannot decode .*image0_rl_visible'):
        build(tmp_path)[0]


def test_missing_label_file_names_it(tmp_path):
    paths = write_frame(tmp_path, 'train', 'image0')
    os.remove(paths['l_amodal'])
    with pytest.raises(FileNotFoundError,
                       match=r'l_amodal mask for image .*image0\.jpg'):
        build(tmp_path)


def test_missing_split_or_images(tmp_path):
    with pytest.raises(FileNotFoundError, match='image folder not found'):
        build(tmp_path)
    os.makedirs(tmp_path / 'interhand2.6m/images/train')
    with pytest.raises(FileNotFoundError, match='no \\*.jpg image'):
        build(tmp_path)


def test_image_smaller_than_crop_is_upsampled(tmp_path):
    """The crop is made at its size whatever the frame's (the same
    transform crops users' images for the pipeline)."""
    write_frame(tmp_path, 'train', 'image0', size=48,
                r_box=(5, 20, 5, 20), l_box=(15, 30, 15, 30))
    sample = build(tmp_path)[0]['data_samples']
    assert sample.gt_sem_seg.data.shape == (4, 64, 64)
    assert sample.frame_shape == (48, 48)
    assert sample.gt_sem_seg.data.any()


def test_mask_of_wrong_size(tmp_path):
    paths = write_frame(tmp_path, 'train', 'image0')
    cv2.imwrite(paths['l_amodal'], np.zeros((80, 80), np.uint8))
    with pytest.raises(ValueError, match=r'image0_l_amodal\.png has size'):
        build(tmp_path)[0]


def test_empty_masks_need_keypoints(tmp_path):
    from hdr_mm.datasets.transforms import CropBothHands
    crop = CropBothHands(out_size=32)
    results = dict(
        img=np.zeros((64, 64, 3), np.uint8),
        gt_seg_map=np.zeros((64, 64, 4), np.uint8),
        seg_fields=['gt_seg_map'], img_path='empty.jpg')
    with pytest.raises(ValueError, match='empty.jpg'):
        crop(dict(results))
    results['keypoints'] = np.array([[[20., 20.], [30., 40.]]])
    out = crop(dict(results))
    # box 10x20 around (25, 30) -> side 40
    np.testing.assert_allclose(out['crop_box'], [5, 10, 45, 50])
    assert out['img'].shape == (32, 32, 3)
    assert out['gt_seg_map'].shape == (32, 32, 4)
