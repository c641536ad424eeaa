import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.datasets import InterHand3DDataset

from hdr_mm.datasets.transforms import LoadHDRTargets

S = 64
PIPELINE = [
    dict(type='LoadImage'),
    dict(type='LoadHDRTargets'),
    dict(type='CropBothHands', out_size=S, context_factor=2.0,
         mask_keys=['gt_hand_masks'],
         context_keys=['gt_alone_right', 'gt_alone_left']),
    dict(type='PackHDRInputs'),
]


def _dataset(root, split='test'):
    init_default_scope('mmpose')
    ann = f'annotations/{split}/InterHand2.6M_{split}'
    return InterHand3DDataset(
        data_root=str(root / 'interhand2.6m'),
        ann_file=ann + '_data.json',
        camera_param_file=ann + '_camera.json',
        joint_file=ann + '_joint_3d.json',
        data_prefix=dict(img=f'images/{split}/'),
        pipeline=PIPELINE,
        test_mode=True)


def test_targets_in_the_crop(synthetic_root):
    ds = _dataset(synthetic_root, 'train')
    kinds = set()
    for i in range(len(ds)):
        out = ds[i]
        sample, img = out['data_samples'], out['inputs']['context']
        masks = sample.gt_fields.hand_masks
        alone = sample.gt_alone_context
        # the masks on the two-hand crop, the renders in the context window
        assert masks.shape == (4, S, S)
        assert alone.shape == (6, ) + tuple(img.shape[1:])
        assert set(masks.unique().tolist()) <= {0, 1}
        names = LoadHDRTargets().mask_names
        m = dict(zip(names, masks))
        # visible lies inside amodal, per hand
        assert not ((m['r_visible'] > m['r_amodal']).any())
        assert not ((m['l_visible'] > m['l_amodal']).any())
        present = ds.get_data_info(i)['hand_type'].reshape(-1) > 0
        valid = np.asarray(sample.metainfo['gt_alone_valid'])
        np.testing.assert_array_equal(valid, present)
        if present.all():
            kinds.add('interacting')
            # each render lacks the other hand: it differs from the crop
            assert (alone[:3].int() - img.int()).abs().float().mean() > 0.5
        else:
            kinds.add('single')
            h = int(np.argmax(present))
            # the frame is the render of its only hand; the other is empty
            assert alone[3 * h:3 * h + 3].equal(img)
            assert not alone[3 * (1 - h):3 * (2 - h)].any()
    assert kinds == {'interacting', 'single'}


def test_missing_files_are_named(synthetic_root, tmp_path):
    root = tmp_path / 'hands'
    shutil.copytree(synthetic_root / 'interhand2.6m', root / 'interhand2.6m')
    ds = _dataset(root, 'train')
    info = ds.get_data_info(0)
    mask = info['img_path'].replace('/images/', '/masks/')[:-4] + \
        '_rl_visible.png'
    shutil.move(mask, mask + '.bak')
    with pytest.raises(FileNotFoundError, match='rl_visible.png'):
        ds[0]
    shutil.move(mask + '.bak', mask)
    with open(mask, 'wb') as f:
        f.write(b'not a png')
    with pytest.raises(IOError, match='rl_visible.png'):
        ds[0]


def test_path_without_image_folder():
    t = LoadHDRTargets()
    with pytest.raises(ValueError, match="no 'images' folder"):
        t(dict(img_path='/data/frames/x.jpg',
               img=np.zeros((8, 8, 3), np.uint8),
               hand_type=np.array([[1, 1]])))
