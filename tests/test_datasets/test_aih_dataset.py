import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from hdr_mm.datasets import AIHDataset
from hdr_mm.datasets.transforms import (LoadAIHSample, MirrorToRight,
                                        syn_aug_matrix)

PIPELINE = [
    dict(type='LoadAIHSample'),
    dict(type='MirrorToRight'),
    dict(type='GetHandBBox', mask_key='r_amodal'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='TopdownAffine', input_size=(64, 64)),
    dict(type='WarpExtraKeys', image_keys=['gt_img'],
         mask_keys=['r_amodal', 'l_amodal', 'rl_visible']),
    dict(type='TDRMaskAlgebra'),
    dict(type='PackTDRInputs'),
]


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmpose')


def _copy(root, tmp_path):
    dst = tmp_path / 'copy'
    shutil.copytree(root, dst)
    return dst


def test_render_samples_packed(synthetic_root):
    ds = AIHDataset(str(synthetic_root), split='train', pipeline=PIPELINE)
    n_inter = len(list((synthetic_root / 'AIH_render/machine_annot/train/'
                        'images/r_images/IH').glob('*.jpg')))
    assert len(ds) == 2 * n_inter
    sides = set()
    for i in range(len(ds)):
        out = ds[i]
        s = out['data_samples']
        assert out['inputs'].shape == (3, 64, 64)
        assert out['inputs'].dtype == torch.uint8
        assert s.gt_img.shape == (3, 64, 64)
        assert s.hand_masks.shape == (4, 64, 64)
        a_t, v_t, a_o, v_o = s.hand_masks.numpy()
        assert a_t.any() and not np.any(v_t & ~a_t) and not np.any(v_o &
                                                                   ~a_o)
        assert not np.any(v_t & v_o)
        sides.add(s.hand_type)
        assert s.flip == (s.hand_type == 'left')
        # crop on the target's amodal box x2: box spans half of the crop
        xs = np.nonzero(a_t.any(0))[0]
        ys = np.nonzero(a_t.any(1))[0]
        side = max(xs[-1] + 1 - xs[0], ys[-1] + 1 - ys[0])
        assert 30 <= side <= 34
        assert s.keep_t.shape == (1, 64, 64)
    assert sides == {'right', 'left'}


def test_left_render_sample_is_mirrored(synthetic_root):
    ds = AIHDataset(str(synthetic_root), split='train', sides=('l', ))
    info = ds.get_data_info(0)
    raw = LoadAIHSample()(dict(info))
    mirrored = MirrorToRight()(LoadAIHSample()(dict(info)))
    np.testing.assert_array_equal(mirrored['img'], raw['img'][:, ::-1])
    np.testing.assert_array_equal(mirrored['r_amodal'],
                                  raw['l_amodal'][:, ::-1])
    np.testing.assert_array_equal(mirrored['l_amodal'],
                                  raw['r_amodal'][:, ::-1])
    rl = raw['rl_visible'][:, ::-1]
    np.testing.assert_array_equal(mirrored['rl_visible'] == 1, rl == 2)
    np.testing.assert_array_equal(mirrored['rl_visible'] == 2, rl == 1)


def test_syn_samples(synthetic_root):
    ds = AIHDataset(str(synthetic_root), split='train', render_dir=None,
                    syn_dir='AIH_syn')
    assert len(ds) == 6
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        out = LoadAIHSample()(dict(info))
        loop = info['hand_type']
        other = 'left' if loop == 'right' else 'right'
        assert out['flip'] == (loop == 'left')
        # rebuild the two warped hands independently
        warped = {}
        for side in ('right', 'left'):
            img = cv2.imread(info['syn_paths'][side]['img'])
            mask = cv2.imread(info['syn_paths'][side]['amodal'], 0)
            if loop == 'left':
                img, mask = img[:, ::-1].copy(), mask[:, ::-1].copy()
            aug = info['aug'][side]
            mat = syn_aug_matrix(aug, img.shape[1], img.shape[0])
            size = img.shape[1::-1]
            img = cv2.warpAffine(img, mat, size)
            mask = cv2.warpAffine(mask, mat, size, flags=cv2.INTER_NEAREST)
            img = np.clip(img * np.float32(aug[4:7]), 0, 255).astype(np.uint8)
            warped[side] = (img, mask)
        np.testing.assert_array_equal(out['gt_img'], warped[loop][0])
        a_o = warped[other][1] > 0
        np.testing.assert_array_equal(out['img'][a_o], warped[other][0][a_o])
        np.testing.assert_array_equal(out['img'][~a_o], warped[loop][0][~a_o])
        # right-hand form: target = r (label 1), other = l (label 2)
        np.testing.assert_array_equal(out['r_amodal'], warped[loop][1])
        np.testing.assert_array_equal(out['rl_visible'] == 2, a_o)
        np.testing.assert_array_equal(out['rl_visible'] == 1,
                                      (warped[loop][1] > 0) & ~a_o)
    # the whole pipeline runs on syn samples too
    ds = AIHDataset(str(synthetic_root), split='train', render_dir=None,
                    syn_dir='AIH_syn', pipeline=PIPELINE)
    assert ds[1]['data_samples'].hand_masks.shape == (4, 64, 64)


def test_missing_folders(synthetic_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='AIH data root'):
        AIHDataset(str(tmp_path / 'nothing'))
    with pytest.raises(FileNotFoundError, match='AIH_syn folder'):
        AIHDataset(str(synthetic_root), render_dir=None, syn_dir='nope')
    with pytest.raises(FileNotFoundError, match='AIH_render split'):
        AIHDataset(str(synthetic_root), annot_types=['human_annot'])


def test_listed_id_without_file(synthetic_root, tmp_path):
    root = _copy(synthetic_root, tmp_path)
    victim = sorted((root / 'AIH_syn/machine_annot/train/images/l_images'
                     ).glob('*.jpg'))[0]
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=str(victim)):
        AIHDataset(str(root), render_dir=None, syn_dir='AIH_syn')
    label = sorted((root / 'AIH_render/machine_annot/train/labels/'
                    'in_r_images/rl_visible').glob('*.png'))[0]
    label.unlink()
    with pytest.raises(FileNotFoundError, match=str(label)):
        AIHDataset(str(root))


def test_syn_cfg_errors(synthetic_root, tmp_path):
    root = _copy(synthetic_root, tmp_path)
    cfg_path = root / 'AIH_syn/syn_cfgs/all_machine_annot_train_syn_cfgs.npy'
    cfgs = list(np.load(cfg_path, allow_pickle=True))
    cfgs[2] = dict(cfgs[2], another_side_idx=10**6)
    np.save(cfg_path, np.array(cfgs, dtype=object), allow_pickle=True)
    with pytest.raises(IndexError, match='entry 2 another_side_idx'):
        AIHDataset(str(root), render_dir=None, syn_dir='AIH_syn')
    data = cfg_path.read_bytes()
    cfg_path.write_bytes(data[:len(data) // 2])  # truncated
    with pytest.raises(ValueError, match='cannot load syn_cfgs'):
        AIHDataset(str(root), render_dir=None, syn_dir='AIH_syn')


class _Payload:

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return (os.mkdir, (self.marker, ))


def test_crafted_syn_cfgs_cannot_run_code(synthetic_root, tmp_path):
    """syn_cfgs are pickled; they are read with a restricted unpickler."""
    root = _copy(synthetic_root, tmp_path)
    cfg_path = root / 'AIH_syn/syn_cfgs/all_machine_annot_train_syn_cfgs.npy'
    cfgs = list(np.load(cfg_path, allow_pickle=True))
    assert len(AIHDataset(str(root), render_dir=None,
                          syn_dir='AIH_syn')) == len(cfgs)
    marker = tmp_path / 'pwned'
    cfgs[0] = dict(cfgs[0], occlusion_rate=_Payload(marker))
    np.save(cfg_path, np.array(cfgs, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError,
                       match=r'cannot load syn_cfgs .*posix.mkdir is not '
                       'allowed'):
        AIHDataset(str(root), render_dir=None, syn_dir='AIH_syn')
    assert not marker.exists()


def _first_render(root, side='r'):
    ds = AIHDataset(str(root), split='train', sides=(side, ),
                    pipeline=PIPELINE)
    return ds, ds.get_data_info(0)


def test_bad_mask_values(synthetic_root, tmp_path):
    root = _copy(synthetic_root, tmp_path)
    ds, info = _first_render(root)
    path = info['mask_paths']['r_amodal']
    m = cv2.imread(path, 0)
    m[0, 0] = 255
    cv2.imwrite(path, m)
    with pytest.raises(ValueError, match=rf'{path} has values \[255\]'):
        ds[0]
    path = info['mask_paths']['rl_visible']
    m = cv2.imread(path, 0)
    m[0, 0] = 3
    cv2.imwrite(path, m)
    cv2.imwrite(info['mask_paths']['r_amodal'],
                (cv2.imread(info['mask_paths']['r_amodal'], 0) == 1).astype(
                    np.uint8))
    with pytest.raises(ValueError, match=r'values \[3\] outside \[0, 1, 2\]'):
        ds[0]


def test_size_mismatch_and_empty_amodal(synthetic_root, tmp_path):
    root = _copy(synthetic_root, tmp_path)
    ds, info = _first_render(root)
    gt = cv2.imread(info['gt_img_path'])
    cv2.imwrite(info['gt_img_path'], gt[:-2])
    with pytest.raises(ValueError, match='must match'):
        ds[0]
    cv2.imwrite(info['gt_img_path'], gt)
    empty = np.zeros(gt.shape[:2], np.uint8)
    cv2.imwrite(info['mask_paths']['r_amodal'], empty)
    with pytest.raises(ValueError, match='target amodal mask .* is empty'):
        ds[0]


def test_corrupt_image_never_replaced(synthetic_root, tmp_path):
    root = _copy(synthetic_root, tmp_path)
    ds, info = _first_render(root)
    with open(info['img_path'], 'wb') as f:
        f.write(b'not a jpeg')
    # training mode too: the error surfaces, no other sample is drawn
    with pytest.raises(IOError, match='cannot decode image'):
        ds[0]
