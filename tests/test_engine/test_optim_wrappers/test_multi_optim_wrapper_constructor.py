import pytest
import torch.nn as nn
from mmengine.optim import OptimWrapperDict

import hdr_mm  # noqa: F401
from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS


class GAN(nn.Module):

    def __init__(self):
        super().__init__()
        self.generator = nn.Linear(2, 2)
        self.discriminator = nn.Sequential(nn.Linear(2, 1), nn.LayerNorm(1))


def build(cfg):
    return OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type='MultiOptimWrapperConstructor', optim_wrapper_cfg=cfg))


def test_one_wrapper_per_child_with_its_settings():
    cfg = dict(
        generator=dict(optimizer=dict(type='Adam', lr=8e-4)),
        discriminator=dict(
            optimizer=dict(type='Adam', lr=8e-5, betas=(0.0, 0.9),
                           weight_decay=1e-4),
            paramwise_cfg=dict(norm_decay_mult=0.)))
    model = GAN()
    wrappers = build(cfg)(model)
    assert isinstance(wrappers, OptimWrapperDict)
    g, d = wrappers['generator'], wrappers['discriminator']
    assert g.param_groups[0]['lr'] == 8e-4
    assert d.param_groups[0]['lr'] == 8e-5
    assert d.param_groups[0]['betas'] == (0.0, 0.9)
    g_params = {
        id(p) for grp in g.optimizer.param_groups for p in grp['params']}
    assert g_params == {id(p) for p in model.generator.parameters()}
    d_params = {
        id(p) for grp in d.optimizer.param_groups for p in grp['params']}
    assert d_params == {id(p) for p in model.discriminator.parameters()}
    # the child's paramwise_cfg applies: no decay on the LayerNorm
    norm = {id(p) for p in model.discriminator[1].parameters()}
    for grp in d.optimizer.param_groups:  # (param_groups adds a placeholder)
        if id(grp['params'][0]) in norm:
            assert grp['weight_decay'] == 0
        else:
            assert grp['weight_decay'] == 1e-4


def test_errors():
    with pytest.raises(AttributeError, match="'critic'"):
        build(dict(critic=dict(optimizer=dict(type='SGD', lr=1.))))(GAN())
    with pytest.raises(ValueError, match='optimizer'):
        build(dict(generator=dict(lr=1.)))
    with pytest.raises(ValueError, match='paramwise_cfg'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type='MultiOptimWrapperConstructor',
                 optim_wrapper_cfg=dict(
                     generator=dict(optimizer=dict(type='SGD', lr=1.))),
                 paramwise_cfg=dict()))
