"""CPUAmpOptimWrapper: bf16 autocast inside optim_context, registered for
every scope, selected by tools/train.py --amp without CUDA."""
import argparse
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapperDict
from mmengine.registry import OPTIM_WRAPPERS, init_default_scope

from hdr_mm.engine.optim_wrappers import (CPUAmpOptimWrapper,
                                          MultiOptimWrapperConstructor)

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))


def test_autocast_inside_optim_context():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(1))
    net(torch.randn(1, 3, 8, 8))
    wrapper = CPUAmpOptimWrapper(
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1))
    before = [p.detach().clone() for p in net.parameters()]
    with wrapper.optim_context(net):
        assert torch.is_autocast_enabled('cpu')
        out = net(torch.randn(2, 3, 8, 8))
        assert out.dtype == torch.bfloat16
        loss = out.float().pow(2).mean()
    assert not torch.is_autocast_enabled('cpu')
    wrapper.update_params(loss)
    # float32 master weights and gradients, updated
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert any(not torch.equal(a, b)
               for a, b in zip(before, net.parameters()))
    off = CPUAmpOptimWrapper(enabled=False, optimizer=torch.optim.SGD(
        net.parameters(), lr=0.1))
    with off.optim_context(net):
        assert not torch.is_autocast_enabled('cpu')
    with pytest.raises(ValueError, match='bfloat16'):
        CPUAmpOptimWrapper(dtype='float16', optimizer=torch.optim.SGD(
            net.parameters(), lr=0.1))


@pytest.mark.parametrize('scope', ['mmpose', 'mmseg'])
def test_built_from_config_in_every_scope(scope):
    init_default_scope(scope)
    net = nn.Linear(2, 2)
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='CPUAmpOptimWrapper',
        optimizer=torch.optim.Adam(net.parameters())))
    assert isinstance(wrapper, CPUAmpOptimWrapper)


def test_gan_wrapper_dict():
    class GAN(nn.Module):

        def __init__(self):
            super().__init__()
            self.generator = nn.Linear(2, 2)
            self.discriminator = nn.Linear(2, 1)

    init_default_scope('mmpose')
    wrappers = MultiOptimWrapperConstructor(dict(
        generator=dict(type='CPUAmpOptimWrapper',
                       optimizer=dict(type='Adam', lr=1e-3)),
        discriminator=dict(type='CPUAmpOptimWrapper',
                           optimizer=dict(type='Adam', lr=1e-4))))(GAN())
    assert isinstance(wrappers, OptimWrapperDict)
    for name in ('generator', 'discriminator'):
        assert isinstance(wrappers[name], CPUAmpOptimWrapper)


@pytest.fixture(scope='module')
def train_tool():
    spec = importlib.util.spec_from_file_location(
        'hdr_train_tool', osp.join(ROOT, 'tools/train.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _args(**kw):
    base = dict(launcher='none', work_dir='/tmp/x', resume=None, amp=True,
                no_validate=False, auto_scale_lr=False, config='c.py')
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.parametrize('cuda', [False, True])
def test_train_amp_flag(train_tool, monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    single = train_tool.merge_args(Config(dict(optim_wrapper=dict(
        optimizer=dict(type='Adam', lr=1e-3)))), _args())
    expected = 'AmpOptimWrapper' if cuda else 'CPUAmpOptimWrapper'
    assert single.optim_wrapper.type == expected
    assert ('loss_scale' in single.optim_wrapper) == cuda
    # the GAN's per-network wrappers (TDR configs)
    tdr = Config.fromfile(
        osp.join(ROOT, 'configs/tdr/tdr_pconv-unet_70k_aih-256x256.py'))
    tdr = train_tool.merge_args(tdr, _args())
    assert 'type' not in tdr.optim_wrapper
    for name in ('generator', 'discriminator'):
        assert tdr.optim_wrapper[name].type == expected
