"""Hook and loop arguments, data roots and inference configs are checked
before anything is built."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import hdr_mm  # noqa: F401
from hdr_mm.engine.config_check import (ConfigCheckError, accepted_args,
                                        check_data_roots,
                                        check_hook_and_loop_args,
                                        check_inference_config, check_types,
                                        pending_data_dirs)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _cfg(tmp_path, **kwargs) -> Config:
    path = tmp_path / 'cfg.py'
    path.write_text('')
    return Config(dict(default_scope='mmpose', **kwargs),
                  filename=str(path))


@pytest.mark.parametrize('config', sorted(
    glob.glob(osp.join(ROOT, 'configs/*/*.py'))), ids=osp.basename)
def test_shipped_configs_pass(config):
    cfg = Config.fromfile(config)
    check_types(cfg)
    check_hook_and_loop_args(cfg)


def test_checkpoint_hook_typo_fails_before_training(tmp_path):
    """CheckpointHook takes **kwargs and hands them to
    Runner.save_checkpoint, which takes none of them: without this check
    the typo fails at the first save."""
    cfg = _cfg(tmp_path, default_hooks=dict(checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpt=1)))
    with pytest.raises(ConfigCheckError) as e:
        check_hook_and_loop_args(cfg)
    msg = str(e.value)
    assert '`default_hooks.checkpoint` (CheckpointHook' in msg
    assert "no argument 'max_keep_ckpt' (did you mean 'max_keep_ckpts'?)" \
        in msg
    assert 'cfg.py' in msg


def test_custom_hook_and_loop_typos(tmp_path):
    cfg = _cfg(tmp_path, custom_hooks=[dict(type='NaNLossGuardHook',
                                            key=['loss'])])
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\].*'key'"):
        check_hook_and_loop_args(cfg)
    for loop, hint in ((dict(by_epoch=False, max_iter=10), 'max_iters'),
                       (dict(type='EpochBasedTrainLoop', max_epoch=2),
                        'max_epochs'),
                       (dict(by_epoch=True, val_intervall=1),
                        'val_interval')):
        with pytest.raises(ConfigCheckError, match=f"'{hint}'"):
            check_hook_and_loop_args(_cfg(tmp_path, train_cfg=loop))
    with pytest.raises(ConfigCheckError, match="ValLoop.*'fp16'"):
        check_hook_and_loop_args(_cfg(tmp_path, val_cfg=dict(fp61=True)))
    check_hook_and_loop_args(_cfg(
        tmp_path, train_cfg=dict(by_epoch=False, max_iters=3,
                                 val_interval=1),
        val_cfg=None, test_cfg=dict(),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           max_keep_ckpts=1, priority=80),
                           logger=None)))


def test_accepted_args_follow_kwargs_to_the_base_class():

    class Base:

        def __init__(self, a, b=1):
            pass

    class Child(Base):

        def __init__(self, c, **kwargs):
            super().__init__(**kwargs)

    class Stores:

        def __init__(self, x, **kwargs):
            self.kwargs = kwargs

    assert accepted_args(Child) == ({'a', 'b', 'c'}, False)
    assert accepted_args(Stores) == ({'x'}, True)  # destination unknown


def test_top_level_data_root_must_reach_the_dataloaders(tmp_path):
    (tmp_path / 'old').mkdir()
    (tmp_path / 'new').mkdir()
    base = tmp_path / 'base.py'
    base.write_text(f'data_root = {str(tmp_path / "old")!r}\n'
                    'train_dataloader = dict(dataset=dict(type="X", '
                    'data_root=data_root))\n')
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['./base.py']\n"
                     f'data_root = {str(tmp_path / "new")!r}\n')
    cfg = Config.fromfile(str(child))
    with pytest.raises(ConfigCheckError) as e:
        check_data_roots(cfg)
    msg = str(e.value)
    assert 'child.py' in msg and '`train_dataloader.dataset.data_root`' in msg
    assert 'do not read the top-level `data_root`' in msg
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'new' / 'sub')
    (tmp_path / 'new' / 'sub').mkdir()
    check_data_roots(cfg)  # inside the top-level root: fine
    # another loader on another folder, on purpose (a test set apart)
    (tmp_path / 'other').mkdir()
    cfg.test_dataloader = dict(dataset=dict(type='X', data_root=str(
        tmp_path / 'other')))
    check_data_roots(cfg)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'old')
    with pytest.raises(ConfigCheckError, match='no dataloader reads'):
        check_data_roots(cfg)


def test_roots_of_data_not_generated_yet(tmp_path):
    """Before the data is generated (a job checking every stage first),
    a root inside a ``synthetic_data`` folder still to be made may be
    missing; any other missing root is an error."""
    out = tmp_path / 'gen'
    cfg = Config(dict(
        synthetic_data=dict(out_dir=str(out), num_samples=4),
        data_root=str(out / 'interhand2.6m'),
        train_dataloader=dict(dataset=dict(
            type='X', data_root=str(out / 'interhand2.6m')))))
    assert pending_data_dirs(cfg) == [str(out)]
    with pytest.raises(ConfigCheckError, match='does not exist'):
        check_data_roots(cfg)
    check_data_roots(cfg, pending_data_dirs(cfg))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'elsewhere')
    cfg.data_root = str(tmp_path / 'elsewhere')
    with pytest.raises(ConfigCheckError, match='elsewhere'):
        check_data_roots(cfg, pending_data_dirs(cfg))
    out.mkdir()  # generated: its roots must exist again
    assert pending_data_dirs(cfg) == []


def test_inference_config_check(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/hdr/'
                                   'hdr_tiny_synthetic-256x256.py'))
    assert check_inference_config(cfg) is cfg
    cfg.model.type = 'HDRPoseEstimater'
    with pytest.raises(ConfigCheckError,
                       match="`model.type` = 'HDRPoseEstimater'.*"
                       "Did you mean.*'HDRPoseEstimator'"):
        check_inference_config(cfg)
