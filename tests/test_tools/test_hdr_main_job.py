"""tools/hdr_main_job.py: its main path on tiny generated data (a couple of
training iterations per stage), and its option parsing."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import hdr_main_job  # noqa: E402


def _data(root, seed, splits):
    return [f'synthetic_data.out_dir={root}', 'synthetic_data.num_samples=10',
            'synthetic_data.img_size=96', f'synthetic_data.seed={seed}',
            f'synthetic_data.split_ratios={splits}']


def test_split_options():
    opts = hdr_main_job.split_options(
        ['hasm.train_cfg.max_iters=2', 'hdr.data_root=x/', 'hasm.a.b=1'])
    assert opts['hasm'] == ['train_cfg.max_iters=2', 'a.b=1']
    assert opts['hdr'] == ['data_root=x/']
    assert opts['tdr'] == [] and opts['shpe'] == []
    for bad in ('hasm', 'hsam.train_cfg.max_iters=2', 'train_cfg=1',
                'hdr.=3'):
        with pytest.raises(ValueError, match='STAGE.KEY=VALUE'):
            hdr_main_job.split_options([bad])


def test_unknown_key_is_refused():
    with pytest.raises(Exception, match='test_dataloder'):
        hdr_main_job.load_config(hdr_main_job.HDR_CONFIG,
                                 ['test_dataloder.batch_size=2'])


def test_main_path(tmp_path):
    """Data -> three stages trained -> combined checkpoint -> both
    evaluations -> table with intervals -> one demo panel; a second run
    reuses every checkpoint."""
    train_root, test_root = tmp_path / 'train', tmp_path / 'test'
    work = tmp_path / 'job'
    opts = []
    for stage in ('hasm', 'tdr', 'shpe'):
        root = f'{train_root}/interhand2.6m/' if stage == 'shpe' \
            else str(train_root)
        opts += [f'{stage}.{o}' for o in _data(train_root, 0, '(0.6,0.2,0.2)')]
        opts += [f'{stage}.data_root={root}',
                 f'{stage}.train_dataloader.batch_size=2',
                 f'{stage}.val_dataloader.batch_size=2']
    opts += ['hasm.train_cfg.max_iters=2', 'tdr.train_cfg.max_iters=2',
             'shpe.train_cfg.max_epochs=1',
             'tdr.custom_hooks=[]']
    opts += [f'hdr.{o}' for o in _data(test_root, 1000, '(0,0,1)')]
    opts += [f'hdr.data_root={test_root}/interhand2.6m/',
             'hdr.test_dataloader.batch_size=2']
    cmd = [sys.executable, osp.join(ROOT, 'tools/hdr_main_job.py'),
           '--work-dir', str(work), '--demo-frames', '1', '--cfg-options',
           *opts]
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for stage, ckpt in (('hasm', 'iter_2.pth'), ('tdr', 'iter_2.pth'),
                        ('shpe', 'epoch_1.pth')):
        assert (work / stage / ckpt).is_file()
    assert (work / 'hdr.pth').is_file()
    results = json.loads((work / 'results.json').read_text())
    table = (work / 'results.md').read_text()
    assert 'MPJPE interacting' in table and 'PA-MPJPE all' in table
    for key, row in results['errors'].items():
        for col in ('alone', 'hdr'):
            assert row[col]['low'] <= row[col]['mean'] <= row[col]['high']
        assert np.isfinite(row['gain']['gain'])
    # both evaluations scored the same frames, from the test data
    frames = [np.load(work / f'eval_{k}' / 'per_frame.npz')['frames']
              for k in ('shpe_alone', 'hdr')]
    np.testing.assert_array_equal(*frames)
    assert len(frames[0]) == 10
    assert list((work / 'demo').glob('*_hdr.png'))
    # a second run trains nothing again
    again = subprocess.run(cmd + ['--demo-frames', '0'], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=1200)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count('not training again') == 3
    assert 'is up to date' in again.stdout
