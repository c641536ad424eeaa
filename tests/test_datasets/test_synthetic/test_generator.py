import json

import cv2
import numpy as np
import pytest
from mmpose.datasets import InterHand3DDataset

from hdr_mm.datasets.synthetic import (GENERATOR_VERSION,
                                       ensure_synthetic_hands,
                                       generate_synthetic_hands)
from hdr_mm.structures import INTERHAND_MIDDLE_MCP, INTERHAND_ROOT


def _interhand(root, split):
    ann = f'annotations/{split}/InterHand2.6M_{split}'
    return InterHand3DDataset(
        ann_file=ann + '_data.json',
        camera_param_file=ann + '_camera.json',
        joint_file=ann + '_joint_3d.json',
        data_root=str(root / 'interhand2.6m'),
        data_prefix=dict(img=f'images/{split}/'))


def test_layout_and_meta(synthetic_root):
    meta = json.loads((synthetic_root / 'meta.json').read_text())
    assert meta['args']['num_samples'] == 10
    counts = {s: v['num_frames'] for s, v in meta['splits'].items()}
    assert counts == dict(train=6, val=2, test=2)
    aih = synthetic_root / 'AIH_render/machine_annot/train'
    n_inter = meta['splits']['train']['num_interacting']
    for t in 'rl':
        for kind in ('IH', 'DR_gt'):
            assert len(list((aih / f'images/{t}_images/{kind}').glob(
                '*.jpg'))) == n_inter
        for lab in ('r_amodal', 'l_amodal', 'rl_visible'):
            assert len(list((aih / f'labels/in_{t}_images/{lab}').glob(
                '*.png'))) == n_inter


def test_interhand_format_loads_and_projects(synthetic_root):
    """mmpose reads the json; 3D joints project onto joint_2d."""
    for split in ('train', 'val', 'test'):
        ds = _interhand(synthetic_root, split)
        data = json.loads(
            (synthetic_root / 'interhand2.6m/annotations' / split /
             f'InterHand2.6M_{split}_data.json').read_text())
        anns = {a['id']: a for a in data['annotations']}
        assert len(ds) == len(anns)
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            ann = anns[info['id']]
            # mmpose projects the 3D joints with the camera json
            err = np.abs(info['keypoints'][0, :, :2] -
                         np.array(ann['joint_2d']))
            assert err.max() < 0.5
            img = cv2.imread(info['img_path'])
            assert img.shape == (96, 96, 3)
            valid = np.array(ann['joint_valid']) > 0
            # every valid joint lies in the frame
            uv = np.array(ann['joint_2d'])[valid]
            assert (uv >= 0).all() and (uv < 96).all()
            cam = info['keypoints_cam'][0]
            for s in (0, 21):
                if valid[s]:
                    bone = np.linalg.norm(cam[s + INTERHAND_ROOT] -
                                          cam[s + INTERHAND_MIDDLE_MCP])
                    # wrist to middle MCP: 90 mm x scale in [0.85, 1.15]
                    assert 0.85 * 90 * 0.94 < bone < 1.15 * 90 * 1.06
        # mmpose's own pipeline entry point runs too
        assert ds[0]['keypoints'].shape == (1, 42, 3)


def test_masks_consistent(synthetic_root):
    data = json.loads((synthetic_root / 'interhand2.6m/annotations/train/'
                       'InterHand2.6M_train_data.json').read_text())
    for img in data['images']:
        stem = str(synthetic_root / 'interhand2.6m/masks/train' /
                   img['file_name'][:-4])
        ra = cv2.imread(stem + '_r_amodal.png', cv2.IMREAD_UNCHANGED)
        la = cv2.imread(stem + '_l_amodal.png', cv2.IMREAD_UNCHANGED)
        rl = cv2.imread(stem + '_rl_visible.png', cv2.IMREAD_UNCHANGED)
        assert set(np.unique(ra)) <= {0, 1}
        assert set(np.unique(rl)) <= {0, 1, 2}
        # visible pixels are amodal pixels of the same hand
        assert not np.any((rl == 1) & (ra == 0))
        assert not np.any((rl == 2) & (la == 0))
        # every hand pixel is visible for one hand
        assert np.array_equal((ra | la) > 0, rl > 0)
        ann = next(a for a in data['annotations'] if a['id'] == img['id'])
        if ann['hand_type'] == 'interacting':
            assert ra.any() and la.any()
            assert 0.0 < ann['occlusion_ratio'] < 1.0
        else:
            present = ra if ann['hand_type'] == 'right' else la
            absent = la if ann['hand_type'] == 'right' else ra
            assert present.any() and not absent.any()


def test_aih_render_crop_pairs(synthetic_root):
    """IH and DR_gt agree outside the other hand; DR_gt shows only the
    target hand (the crop is centred on its amodal box, 2x)."""
    aih = synthetic_root / 'AIH_render/machine_annot/train'
    for t in 'rl':
        o = 'l' if t == 'r' else 'r'
        for p in sorted((aih / f'images/{t}_images/IH').glob('*.jpg')):
            ih = cv2.imread(str(p)).astype(int)
            gt = cv2.imread(str(p).replace('/IH/', '/DR_gt/')).astype(int)
            lab = aih / f'labels/in_{t}_images'
            a_t = cv2.imread(str(lab / f'{t}_amodal' / (p.stem + '.png')), 0)
            a_o = cv2.imread(str(lab / f'{o}_amodal' / (p.stem + '.png')), 0)
            ys, xs = np.nonzero(a_t)
            w = max(xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
            assert abs(w - 48) <= 2  # half of the 96 px crop
            cx, cy = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() +
                                                     1) / 2
            assert abs(cx - 48) <= 1.5 and abs(cy - 48) <= 1.5
            # away from the other hand (and JPEG ringing) images agree
            far = cv2.dilate(a_o, np.ones((7, 7), np.uint8)) == 0
            assert np.abs(ih - gt)[far].mean() < 2.0
            # the other hand changes the image where it is visible
            vis_o = cv2.imread(str(lab / 'rl_visible' / (p.stem + '.png')),
                               0) == (2 if t == 'r' else 1)
            if vis_o.sum() > 50:
                assert np.abs(ih - gt)[vis_o].mean() > 3.0


def test_deterministic_and_no_overwrite(tmp_path, synthetic_args):
    args = dict(synthetic_args, num_samples=3, img_size=64, progress=False)
    generate_synthetic_hands(str(tmp_path / 'a'), **args)
    generate_synthetic_hands(str(tmp_path / 'b'), **args)
    files_a = sorted(p.relative_to(tmp_path / 'a')
                     for p in (tmp_path / 'a').rglob('*') if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / 'b')
                     for p in (tmp_path / 'b').rglob('*') if p.is_file())
    assert files_a == files_b and len(files_a) > 10
    for f in files_a:
        if f.name == 'meta.json':
            continue  # holds the timing
        assert (tmp_path / 'a' / f).read_bytes() == (tmp_path / 'b' /
                                                     f).read_bytes(), f
    with pytest.raises(FileExistsError, match='already exists'):
        generate_synthetic_hands(str(tmp_path / 'a'), **args)
    # ensure: existing data is reused, other arguments are refused
    meta = ensure_synthetic_hands(str(tmp_path / 'a'), num_samples=3,
                                  img_size=64)
    assert meta['args']['img_size'] == 64
    with pytest.raises(ValueError, match='num_samples'):
        ensure_synthetic_hands(str(tmp_path / 'a'), num_samples=4)
    # data drawn by an older generator (no 'version': the first) is
    # refused even with the same arguments: its images differ
    meta_file = tmp_path / 'a' / 'meta.json'
    old = json.loads(meta_file.read_text())
    assert old['version'] == GENERATOR_VERSION
    del old['version']
    meta_file.write_text(json.dumps(old))
    with pytest.raises(ValueError, match='version 1 of the synthetic'):
        ensure_synthetic_hands(str(tmp_path / 'a'), num_samples=3,
                               img_size=64)
    (tmp_path / 'c').mkdir()
    (tmp_path / 'c' / 'x.txt').write_text('x')
    with pytest.raises(FileExistsError, match='no meta.json'):
        ensure_synthetic_hands(str(tmp_path / 'c'), num_samples=3)


def test_ensure_generates_on_first_use(tmp_path, monkeypatch):
    from hdr_mm.datasets.synthetic import generator
    logged = []
    monkeypatch.setattr(generator, 'print_log',
                        lambda msg, *a, **k: logged.append(msg))
    root = tmp_path / 'fresh'
    meta = ensure_synthetic_hands(str(root), num_samples=2, img_size=64,
                                  seed=5)
    assert (root / 'meta.json').is_file()
    assert meta['args']['seed'] == 5
    assert len(logged) == 1 and 'generating 2 samples on first use' in \
        logged[0]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='occlusion_range'):
        generate_synthetic_hands(str(tmp_path / 'x'), 2,
                                 occlusion_range=(0.8, 0.2))
    with pytest.raises(ValueError, match='num_samples'):
        generate_synthetic_hands(str(tmp_path / 'x'), 0)


def test_alone_renders(synthetic_root):
    """Interacting frames get each hand rendered alone on the same view:
    equal to the frame wherever the other hand is absent, background where
    only the other hand was."""
    data = json.loads((synthetic_root / 'interhand2.6m/annotations/train/'
                       'InterHand2.6M_train_data.json').read_text())
    anns = {a['image_id']: a for a in data['annotations']}
    n_checked = 0
    for img in data['images']:
        rel = img['file_name'][:-4]
        alone = {s: synthetic_root / 'interhand2.6m/images_alone/train' /
                 f'{rel}_{s}.jpg' for s in ('right', 'left')}
        if anns[img['id']]['hand_type'] != 'interacting':
            assert not any(p.exists() for p in alone.values())
            continue
        frame = cv2.imread(str(synthetic_root / 'interhand2.6m/images/train'
                               / img['file_name'])).astype(int)
        stem = str(synthetic_root / 'interhand2.6m/masks/train' / rel)
        rl = cv2.imread(stem + '_rl_visible.png', cv2.IMREAD_UNCHANGED)
        amodal = dict(
            right=cv2.imread(stem + '_r_amodal.png', cv2.IMREAD_UNCHANGED),
            left=cv2.imread(stem + '_l_amodal.png', cv2.IMREAD_UNCHANGED))
        for side, other in (('right', 'left'), ('left', 'right')):
            a = cv2.imread(str(alone[side])).astype(int)
            label = 1 if side == 'right' else 2
            # pixels where this hand is visible in the frame are the same
            # (JPEG noise and edge pixels aside)
            inner = cv2.erode((rl == label).astype(np.uint8),
                              np.ones((5, 5), np.uint8)) > 0
            if inner.any():
                assert np.abs(a[inner] - frame[inner]).mean() < 6
            # pixels of the other hand only: the hand is removed there
            only_other = cv2.erode(
                ((amodal[other] > 0) & (amodal[side] == 0)).astype(
                    np.uint8), np.ones((5, 5), np.uint8)) > 0
            if only_other.any():
                assert np.abs(a[only_other] - frame[only_other]).mean() > 6
        n_checked += 1
    assert n_checked > 0


def test_handedness_layout(synthetic_root):
    """Sides are identifiable from the layout: in every interacting frame
    the right hand's palm centre (wrist to middle MCP) is on the image's
    left of the left hand's (docs: scene.MAX_SIDE_ANGLE), up to a few
    pixels when the hands overlap almost fully (the final placement moves
    each hand by its own median depth; on 500 generated frames the worst
    case was 3% of the frame width)."""
    data = json.loads((synthetic_root / 'interhand2.6m/annotations/train/'
                       'InterHand2.6M_train_data.json').read_text())
    n = 0
    for ann in data['annotations']:
        if ann['hand_type'] != 'interacting':
            continue
        uv = np.array(ann['joint_2d'])
        palm = [(uv[s + INTERHAND_ROOT] + uv[s + INTERHAND_MIDDLE_MCP]) / 2
                for s in (0, 21)]
        assert palm[0][0] <= palm[1][0] + 0.05 * 96
        n += 1
    assert n > 0
