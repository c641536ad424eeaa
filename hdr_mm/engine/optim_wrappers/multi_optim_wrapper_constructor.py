"""One optimiser wrapper per sub-network, for GAN-style models."""
from typing import Optional

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict

from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Build an ``OptimWrapperDict`` with one wrapper per named child.

    mmengine builds a single optimiser for the whole model; a GAN needs
    separate ones (different learning rates and betas for generator and
    discriminator), as in mmagic's constructor of the same purpose. Each
    entry of the config names a child module of the model and holds an
    ordinary optim wrapper config (with an optional ``paramwise_cfg``),
    built by mmengine's ``DefaultOptimWrapperConstructor``.

    Example::

        optim_wrapper = dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(type='OptimWrapper',
                           optimizer=dict(type='Adam', lr=8e-4)),
            discriminator=dict(type='OptimWrapper',
                               optimizer=dict(type='Adam', lr=8e-5,
                                              betas=(0.0, 0.9))))

    Args:
        optim_wrapper_cfg: Child name -> optim wrapper config.
        paramwise_cfg: Must be None here; give it per child instead.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        if not isinstance(optim_wrapper_cfg, dict) or not optim_wrapper_cfg:
            raise TypeError('MultiOptimWrapperConstructor needs a dict of '
                            'child name -> optim wrapper config, got '
                            f'{optim_wrapper_cfg!r}')
        if paramwise_cfg is not None:
            raise ValueError(
                'MultiOptimWrapperConstructor: put paramwise_cfg inside '
                'each child config, not at the top level')
        self.constructors = {}
        for name, cfg in optim_wrapper_cfg.items():
            if not isinstance(cfg, dict) or 'optimizer' not in cfg:
                raise ValueError(
                    f'optim_wrapper.{name} must be an optim wrapper config '
                    f"with an 'optimizer', got {cfg!r}")
            cfg = dict(cfg)
            pw = cfg.pop('paramwise_cfg', None)
            cfg.setdefault('type', 'OptimWrapper')
            self.constructors[name] = DefaultOptimWrapperConstructor(
                cfg, pw)

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if hasattr(model, 'module'):  # DDP and other wrappers
            model = model.module
        wrappers = {}
        for name, constructor in self.constructors.items():
            child = getattr(model, name, None)
            if not isinstance(child, nn.Module):
                raise AttributeError(
                    f'optim_wrapper names {name!r} but '
                    f'{type(model).__name__} has no such sub-module')
            wrappers[name] = constructor(child)
        return OptimWrapperDict(**wrappers)
