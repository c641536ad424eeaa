"""Generated frames -> COCO detection json, one box per hand."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from hdr_mm.datasets.synthetic.coco_detection import (
    HAND_SIDE_CATEGORIES, coco_det_file, ensure_coco_det,
    synthetic_to_coco_det)


def _frames(root, split):
    path = osp.join(root, 'interhand2.6m', 'annotations', split,
                    f'InterHand2.6M_{split}_data.json')
    with open(path) as f:
        data = json.load(f)
    return {a['image_id']: a for a in data['annotations']}


def _xyxy(a):
    x, y, w, h = a['bbox']
    return np.array([x, y, x + w, y + h])


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_one_box_per_present_hand(synthetic_root, split):
    coco = synthetic_to_coco_det(str(synthetic_root), split)
    frames = _frames(synthetic_root, split)
    assert coco['categories'] == HAND_SIDE_CATEGORIES
    assert [i['id'] for i in coco['images']] == list(frames)
    ids = [a['id'] for a in coco['annotations']]
    assert len(set(ids)) == len(ids) and min(ids) >= 1
    for img in coco['images']:
        frame = frames[img['id']]
        anns = [a for a in coco['annotations'] if a['image_id'] == img['id']]
        sides = [a['hand_side'] for a in anns]
        # single-hand frames: one box, of the present side
        expected = (['right', 'left'] if frame['hand_type'] == 'interacting'
                    else [frame['hand_type']])
        assert sides == expected
        assert img['hand_type'] == frame['hand_type']
        for a in anns:
            assert a['category_id'] == ('right', 'left').index(
                a['hand_side']) + 1
            assert a['iscrowd'] == 0 and a['visible_pixels'] > 0
            x, y, w, h = a['bbox']
            assert w > 0 and h > 0 and a['area'] == pytest.approx(w * h)
            assert x >= 0 and y >= 0
            assert x + w <= img['width'] and y + h <= img['height']
        # every hidden pixel of one hand is a visible pixel of the other:
        # the union of the visible boxes is the frame's two-hand box
        # (pixel centres at integers there, pixel i = [i, i + 1) in COCO:
        # half a pixel apart)
        boxes = np.stack([_xyxy(a) for a in anns])
        union = np.concatenate([boxes[:, :2].min(0), boxes[:, 2:].max(0)])
        np.testing.assert_allclose(union, _xyxy(frame) + 0.5, atol=1e-4)


def test_visible_box_inside_amodal_box(synthetic_root):
    vis = synthetic_to_coco_det(str(synthetic_root), 'train', box='visible')
    amo = synthetic_to_coco_det(str(synthetic_root), 'train', box='amodal')
    jnt = synthetic_to_coco_det(str(synthetic_root), 'train', box='joints')
    assert len(vis['annotations']) == len(amo['annotations']) == len(
        jnt['annotations'])
    smaller = 0
    for v, a in zip(vis['annotations'], amo['annotations']):
        assert v['hand_side'] == a['hand_side']
        bv, ba = _xyxy(v), _xyxy(a)
        assert (bv[:2] >= ba[:2] - 1e-6).all()
        assert (bv[2:] <= ba[2:] + 1e-6).all()
        smaller += int(v['area'] < a['area'] - 1e-6)
    assert smaller > 0  # occluded back hands
    assert amo['info']['box'] == 'amodal'


def test_single_class(synthetic_root):
    coco = synthetic_to_coco_det(str(synthetic_root), 'val',
                                 single_class=True)
    assert coco['categories'] == [dict(id=1, name='hand')]
    assert {a['category_id'] for a in coco['annotations']} == {1}


def test_bad_inputs(synthetic_root, tmp_path):
    with pytest.raises(ValueError, match='box must be one of'):
        synthetic_to_coco_det(str(synthetic_root), 'train', box='tight')
    with pytest.raises(FileNotFoundError, match='not a generated dataset'):
        synthetic_to_coco_det(str(tmp_path), 'train')


def test_ensure_writes_once(synthetic_root, tmp_path):
    import shutil
    root = tmp_path / 'hands'
    shutil.copytree(synthetic_root, root)
    paths = ensure_coco_det(str(root), ('train', 'test'))
    assert paths == [coco_det_file(str(root), s) for s in ('train', 'test')]
    mtime = osp.getmtime(paths[0])
    assert ensure_coco_det(str(root), ('train', )) == paths[:1]
    assert osp.getmtime(paths[0]) == mtime
    with open(paths[1]) as f:
        assert json.load(f) == synthetic_to_coco_det(str(root), 'test')


def test_cli(synthetic_root, tmp_path, repo_root):
    out = subprocess.run(
        [sys.executable,
         osp.join(repo_root, 'tools', 'dataset_converters',
                  'synthetic_hands_to_coco.py'),
         str(synthetic_root), '--splits', 'test', '--out-dir',
         str(tmp_path)],
        capture_output=True, text=True, check=True).stdout
    assert 'test:' in out and 'right' in out
    with open(tmp_path / 'test_visible.json') as f:
        assert len(json.load(f)['images']) == len(
            _frames(synthetic_root, 'test'))
