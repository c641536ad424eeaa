"""Building an mmengine Runner for hdr_mm configs, with early checks.

``tools/train.py`` and ``tools/test.py`` go through :func:`build_runner`.
Before anything heavy is built it

1. generates the embedded synthetic data a config names in its top-level
   ``synthetic_data`` dict (or list of dicts), if it is missing (once,
   that the processes of a distributed run do not race);
2. checks the config (:func:`~hdr_mm.engine.config_check.check_config`)
   so that a misspelled component type or hook/loop argument, a missing
   or diverging data root or a missing checkpoint fails at once with a
   message that names it, instead of minutes later;
3. picks the ``gloo`` backend for distributed runs on a machine without
   CUDA, so the same config runs under ``torchrun`` on CPU;
4. builds :class:`~hdr_mm.engine.runner.HDRRunner`: weights-only
   checkpoint loading, atomic checkpoint saving.

``--cfg-options`` are merged before, by
:func:`~hdr_mm.engine.config_options.merge_cfg_options`.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .config_check import ConfigCheckError, check_config
from .runner import HDRRunner

__all__ = [
    'ConfigCheckError', 'build_runner', 'check_config', 'ensure_config_data',
    'set_default_launcher_env', 'use_gloo_without_cuda'
]


def set_default_launcher_env(launcher: str) -> None:
    """Make ``torchrun``'s variables complete for a CPU-only launch.

    Args:
        launcher: The ``--launcher`` argument.
    """
    if launcher == 'pytorch':
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29500')


def ensure_config_data(cfg: Config) -> None:
    """Generate the synthetic data named in ``cfg.synthetic_data`` if it
    is missing.

    ``synthetic_data`` holds the keyword arguments of
    :func:`hdr_mm.datasets.synthetic.ensure_synthetic_hands` (``out_dir``,
    ``num_samples``, ...), or a list of such dicts for a config that reads
    several generated folders (e.g. trains on one and tests on another).
    The generator holds a lock per ``out_dir``, so processes that start
    together generate the data once.
    """
    specs = cfg.get('synthetic_data')
    if not specs:
        return
    from hdr_mm.datasets.synthetic import ensure_synthetic_hands
    if not isinstance(specs, (list, tuple)):
        specs = [specs]
    for spec in specs:
        ensure_synthetic_hands(**dict(spec))


def use_gloo_without_cuda(cfg: Config) -> None:
    """Make a distributed run work on CPU when CUDA is absent.

    Three things in mmengine 0.10.7 assume GPUs, and are changed here so
    that the same config runs under ``torchrun`` on CPU:

    - the default backend ``nccl``: switched to ``gloo``;
    - ``init_dist`` calls ``torch.cuda.set_device`` (an error without a
      driver): the process group is initialised here instead, from
      torchrun's ``RANK``/``WORLD_SIZE``, and the Runner then skips it;
    - the model wrapper gets ``device_ids=[LOCAL_RANK]``, which DDP
      refuses for a CPU module: ``model_wrapper_cfg.device_ids`` is set to
      None (the default wrapper, or the config's own, e.g. TDR's
      ``MMSeparateDistributedDataParallel``).
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    # ConfigDict.setdefault returns a copy, so assign level by level
    if cfg.get('env_cfg') is None:
        cfg.env_cfg = dict()
    if cfg.env_cfg.get('dist_cfg') is None:
        cfg.env_cfg.dist_cfg = dict()
    if cfg.env_cfg.dist_cfg.get('backend', 'nccl') == 'nccl':
        print_log('CUDA is not available: using the gloo backend',
                  logger='current')
        cfg.env_cfg.dist_cfg.backend = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if cfg.launcher == 'pytorch' and not torch_dist.is_initialized():
        dist_cfg = dict(cfg.env_cfg.dist_cfg)
        backend = dist_cfg.pop('backend')
        torch_dist.init_process_group(
            backend=backend,
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **dist_cfg)


def build_runner(cfg: Config) -> Runner:
    """Check ``cfg``, prepare its data and build its Runner.

    Args:
        cfg: The merged config, with ``work_dir`` and ``launcher`` set.

    Returns:
        Runner: an :class:`~hdr_mm.engine.runner.HDRRunner` (safe
        checkpoint loading, atomic saving), or the ``cfg.runner_type``
        that the config names.
    """
    ensure_config_data(cfg)
    check_config(cfg)
    use_gloo_without_cuda(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return HDRRunner.from_cfg(cfg)
