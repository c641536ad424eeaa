"""HDRRunner: weights-only resume, atomic checkpoint saving."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

from hdr_mm.engine.runner import HDRRunner
from hdr_mm.utils.checkpoint_loading import (UnsafeCheckpointError,
                                             checkpoint_loading)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_resumes_from_its_own_checkpoint_without_opt_in(
        tmp_path, runner_checkpoint, tiny_runner_cfg):
    ckpt = str(tmp_path / 'iter_2.pth')
    shutil.copy(runner_checkpoint, ckpt)
    runner = HDRRunner(**tiny_runner_cfg(
        str(tmp_path), max_iters=3, resume=True, load_from=ckpt))
    runner.train()
    assert runner.iter == 3
    saved = torch.load(str(tmp_path / 'iter_3.pth'), weights_only=False)
    assert saved['meta']['iter'] == 3
    assert not [f for f in os.listdir(tmp_path) if '.part' in f]


def test_resume_refuses_a_crafted_checkpoint(tmp_path, tiny_runner_cfg,
                                             crafted_checkpoint):
    marker = tmp_path / 'pwned'
    evil = crafted_checkpoint(tmp_path / 'iter_1.pth', marker)
    runner = HDRRunner(**tiny_runner_cfg(
        str(tmp_path / 'work'), resume=True, load_from=evil))
    with pytest.raises(UnsafeCheckpointError, match='iter_1.pth'):
        runner.train()
    assert not marker.exists()
    runner = HDRRunner(**tiny_runner_cfg(str(tmp_path / 'work2')))
    with pytest.raises(UnsafeCheckpointError, match='--unsafe-load'):
        runner.load_checkpoint(evil)
    with checkpoint_loading(unsafe=True):  # the opt-in reaches it
        runner.load_checkpoint(evil)
    assert marker.exists()


KILLED_SAVE = textwrap.dedent('''
    import os, signal, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    import mmengine.runner.runner as runner_module
    from conftest import _tiny_runner_cfg
    from hdr_mm.engine.runner import HDRRunner

    save = runner_module.save_checkpoint

    def killed(checkpoint, filename, **kwargs):
        if 'iter_2' in filename:  # die half-way through the second save
            with open(filename, 'wb') as f:
                f.write(b'PK half a checkpoint')
            os.kill(os.getpid(), signal.SIGKILL)
        save(checkpoint, filename, **kwargs)

    runner_module.save_checkpoint = killed
    HDRRunner(**_tiny_runner_cfg({work!r}, **{overrides!r})).train()
''')


def test_a_kill_during_save_leaves_no_truncated_checkpoint(
        tmp_path, tiny_runner_cfg):
    work = str(tmp_path / 'work')
    script = KILLED_SAVE.format(root=ROOT, tests=osp.join(ROOT, 'tests'),
                                work=work, overrides={})
    proc = subprocess.run([sys.executable, '-c', script],
                          capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-3000:]
    files = os.listdir(work)
    assert 'iter_1.pth' in files and 'iter_2.pth' not in files
    parts = [f for f in files if f.startswith('.iter_2.pth.part-')]
    assert len(parts) == 1  # the half-written temporary file
    torch.load(osp.join(work, 'iter_1.pth'), weights_only=False)
    # the next run into the folder resumes and cleans the dead part up
    runner = HDRRunner(**tiny_runner_cfg(work, resume=True))
    runner.train()
    files = os.listdir(work)
    assert 'iter_2.pth' in files and not [f for f in files if '.part' in f]


def test_a_kill_during_save_keeps_the_previous_checkpoint(tmp_path):
    """With max_keep_ckpts=1 mmengine deletes iter_1.pth before writing
    iter_2.pth; HDRRunner's checkpoint hook keeps it until then."""
    work = str(tmp_path / 'work')
    hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                 by_epoch=False, max_keep_ckpts=1))
    script = KILLED_SAVE.format(root=ROOT, tests=osp.join(ROOT, 'tests'),
                                work=work,
                                overrides=dict(default_hooks=hooks))
    proc = subprocess.run([sys.executable, '-c', script],
                          capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-3000:]
    files = os.listdir(work)
    assert 'iter_1.pth' in files and 'iter_2.pth' not in files
    torch.load(osp.join(work, 'iter_1.pth'), weights_only=False)


def test_outdated_checkpoints_are_removed_after_saving(tmp_path,
                                                       tiny_runner_cfg):
    hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                 by_epoch=False, max_keep_ckpts=1))
    runner = HDRRunner(**tiny_runner_cfg(str(tmp_path), max_iters=3,
                                         default_hooks=hooks))
    assert 'KeepUntilSavedCheckpointHook' in [
        type(h).__name__ for h in runner.hooks]
    runner.train()
    ckpts = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert ckpts == ['iter_3.pth']
