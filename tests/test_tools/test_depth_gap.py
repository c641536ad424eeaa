"""tools/analysis_tools/depth_gap.py: the depth gap of interacting hands
measured on an InterHand2.6M-format split."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/analysis_tools/depth_gap.py')


def _gaps_from_json(data_root, split):
    """|left - right palm-centre depth| (wrist and middle MCP midway) of
    the interacting frames, straight from the three json files (camera
    frame: R (world - campos))."""
    ann = osp.join(data_root, 'annotations', split, f'InterHand2.6M_{split}')
    data = json.load(open(f'{ann}_data.json'))
    cams = json.load(open(f'{ann}_camera.json'))
    joints = json.load(open(f'{ann}_joint_3d.json'))
    images = {img['id']: img for img in data['images']}
    gaps = []
    for a in data['annotations']:
        if a['hand_type'] != 'interacting':
            continue
        img = images[a['image_id']]
        cap, cam = str(img['capture']), img['camera']
        world = np.array(joints[cap][str(img['frame_idx'])]['world_coord'])
        rot = np.array(cams[cap]['camrot'][cam])
        pos = np.array(cams[cap]['campos'][cam])
        z = (rot @ (world - pos).T).T[:, 2]
        gaps.append(abs((z[41] + z[32]) / 2 - (z[20] + z[11]) / 2))
    return np.array(gaps)


def test_median_gap_of_the_interacting_frames(synthetic_root, tmp_path):
    data_root = osp.join(synthetic_root, 'interhand2.6m')
    out = tmp_path / 'gap.json'
    proc = subprocess.run(
        [sys.executable, TOOL, data_root, '--split', 'train', '--json',
         str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    want = _gaps_from_json(data_root, 'train')
    assert len(want) >= 2
    stats = json.load(open(out))
    assert stats['frames'] == len(want)
    np.testing.assert_allclose(stats['median'], np.median(want), rtol=1e-4)
    assert stats['q25'] <= stats['median'] <= stats['q75']
    assert f'depth_gap_mm={np.median(want):.1f}' in proc.stdout


def test_missing_split_names_the_file(synthetic_root):
    data_root = osp.join(synthetic_root, 'interhand2.6m')
    proc = subprocess.run([sys.executable, TOOL, data_root, '--split', 'nope'],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    assert 'InterHand2.6M_nope_data.json' in proc.stderr
    assert 'Traceback' not in proc.stderr
