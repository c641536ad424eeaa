"""--cfg-options keys that nothing would read are refused."""
import os.path as osp

import pytest
from mmengine.config import Config

import hdr_mm  # noqa: F401
from hdr_mm.engine.config_options import (ConfigOptionError,
                                          check_cfg_options,
                                          merge_cfg_options)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHPE = osp.join(ROOT, 'configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-'
                '96x96.py')
HDR = osp.join(ROOT, 'configs/hdr/hdr_tiny_synthetic-256x256.py')


@pytest.fixture(scope='module')
def shpe():
    return Config.fromfile(SHPE)


@pytest.mark.parametrize('key,hint', [
    ('test_dataloder.batch_size', "'test_dataloader'"),
    ('train_dataloader.batch_sise', "'batch_size'"),
    ('train_dataloader.dataset.data_rot', "'data_root'"),
    ('model.backbone.stem_channel', "'stem_channels'"),
    ('default_hooks.checkpoint.max_keep_ckpt', "'max_keep_ckpts'"),
    ('train_cfg.max_epoch', "'max_epochs'"),
    ('optim_wrapper.optimizer.lrr', "'lr'"),
])
def test_misspelled_keys_are_refused_with_close_matches(shpe, key, hint):
    with pytest.raises(ConfigOptionError) as e:
        check_cfg_options(shpe, {key: 2})
    msg = str(e.value)
    assert msg.startswith(f'--cfg-options {key}:') and hint in msg


@pytest.mark.parametrize('key', [
    'train_dataloader.batch_size',  # existing keys
    # list items by index (pipeline.0 is CachedCompose)
    'train_dataloader.dataset.pipeline.0.transforms.0.to_float32',
    'val_dataloader.dataset.pipeline.0.to_float32',
    'load_from', 'resume', 'randomness.seed',  # read by the Runner
    'train_dataloader.drop_last',  # a DataLoader argument
    'model.test_cfg.flip_test',  # an argument of TopdownPoseEstimator
    'val_cfg.fp16',  # an argument of ValLoop
    'default_hooks.logger.priority',  # taken by register_hook
    'env_cfg.mp_cfg.mp_start_method',  # plain dict, nothing close
])
def test_keys_that_take_effect_are_accepted(shpe, key):
    check_cfg_options(shpe, {key: 1})


def test_new_stage_checkpoint_key_of_the_pipeline_is_accepted():
    cfg = Config.fromfile(HDR)
    assert 'checkpoint' not in cfg.model.hasm
    merge_cfg_options(cfg, {'model.hasm.checkpoint': 'x.pth'})
    assert cfg.model.hasm.checkpoint == 'x.pth'
    with pytest.raises(ConfigOptionError, match="'use_tdr'"):
        check_cfg_options(cfg, {'model.use_tdrr': False})


def test_structural_errors(shpe):
    with pytest.raises(ConfigOptionError, match='list of .* items; .99'):
        check_cfg_options(shpe, {'train_dataloader.dataset.pipeline.99.x': 1})
    with pytest.raises(ConfigOptionError, match='not a dict'):
        check_cfg_options(shpe, {'train_cfg.max_epochs.x': 1})
    with pytest.raises(ConfigOptionError, match='no top-level key'):
        check_cfg_options(shpe, {'foo': 1})


def test_data_root_option_moves_the_dataloaders(shpe):
    cfg = Config.fromfile(SHPE)
    old = cfg.data_root
    merge_cfg_options(cfg, {'data_root': '/data/elsewhere/',
                            'val_dataloader.dataset.data_root': '/v'})
    assert cfg.train_dataloader.dataset.data_root == '/data/elsewhere/'
    assert cfg.test_dataloader.dataset.data_root == '/data/elsewhere/'
    assert cfg.val_dataloader.dataset.data_root == '/v'  # set explicitly
    assert old != '/data/elsewhere/'
