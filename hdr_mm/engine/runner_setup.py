"""Building an mmengine Runner for hdr_mm configs, with early checks.

``tools/train.py`` and ``tools/test.py`` go through :func:`build_runner`.
Before anything heavy is built it

1. generates the embedded synthetic data a config names in its top-level
   ``synthetic_data`` dict (or list of dicts), if it is missing (once, under a file lock, so
   that the processes of a distributed run do not race);
2. checks the config (see :func:`check_config`) so that a misspelled
   component type, a missing data root or a missing checkpoint fails at
   once with a message that names it, instead of minutes later;
3. picks the ``gloo`` backend for distributed runs on a machine without
   CUDA, so the same config runs under ``torchrun`` on CPU.
"""
import difflib
import fcntl
import os
import os.path as osp
from typing import Any, Iterator, List, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


class ConfigCheckError(ValueError):
    """A config names something that does not exist."""


def set_default_launcher_env(launcher: str) -> None:
    """Make ``torchrun``'s variables complete for a CPU-only launch.

    Args:
        launcher: The ``--launcher`` argument.
    """
    if launcher == 'pytorch':
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29500')


#: config keys whose dict has a ``type`` that names no registered
#: component: mmdet's ``nms=dict(type='nms' | 'soft_nms', ...)``, which
#: mmcv's ``batched_nms`` resolves to a function of ``mmcv.ops``
UNREGISTERED_TYPE_KEYS = frozenset({'nms'})


def _iter_typed(node: Any,
                path: str = '',
                scope: str = 'mmpose') -> Iterator[Tuple[str, str, str]]:
    """Yield ``(key path, type name, scope)`` for every ``type=<str>`` dict.

    A component named with a scope prefix (``mmseg.EncoderDecoder``)
    builds its children in that scope, so their unprefixed types are
    looked up there. Dicts under a key in :data:`UNREGISTERED_TYPE_KEYS`
    are skipped: their ``type`` is not a registry name.
    """
    if isinstance(node, dict):
        t = node.get('type')
        if isinstance(t, str) and path.rsplit('.', 1)[-1] not in \
                UNREGISTERED_TYPE_KEYS:
            yield path or '<root>', t, scope
            if '.' in t:
                scope = t.split('.')[0]
        for k, v in node.items():
            yield from _iter_typed(v, f'{path}.{k}' if path else str(k),
                                   scope)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _iter_typed(v, f'{path}[{i}]', scope)


def _scope_registries(scope: str) -> List:
    """Every registry of a scope's package (``<scope>.registry``): a
    config type may live in any of them, and their parents hold
    mmengine's components."""
    import importlib

    from mmengine.registry import Registry
    try:
        module = importlib.import_module(f'{scope}.registry')
    except ImportError:
        return []
    return [
        getattr(module, name) for name in dir(module)
        if isinstance(getattr(module, name), Registry)
    ]


def _known_type(type_name: str, registries: List) -> bool:
    for registry in registries:
        try:
            if registry.get(type_name) is not None:
                return True
        except (KeyError, ImportError):
            continue
    return False


def _close_matches(type_name: str, registries: List) -> List[str]:
    names = set()
    for registry in registries:
        names.update(registry.module_dict)
    return difflib.get_close_matches(type_name.split('.')[-1], sorted(names))


def check_config(cfg: Config) -> None:
    """Fail early on names in a config that cannot be resolved.

    Checks that every ``type`` resolves in a registry, that the
    ``data_root`` of every dataloader's dataset exists, and that
    ``load_from`` exists when it names a local file.

    Args:
        cfg: The merged config (after ``--cfg-options``).

    Raises:
        ConfigCheckError: naming the config key and what was expected.
    """
    default_scope = cfg.get('default_scope', None) or 'mmpose'
    for path, type_name, scope in _iter_typed(cfg.to_dict(),
                                              scope=default_scope):
        registries = _scope_registries(scope)
        if not _known_type(type_name, registries):
            hint = _close_matches(type_name, registries)
            raise ConfigCheckError(
                f'{cfg.filename}: `{path}.type` = {type_name!r} is not a '
                f'registered component (scope {scope!r}). '
                + (f'Did you mean {hint}?' if hint else
                   'Is `custom_imports` missing the package that defines '
                   'it?'))
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = loader.get('dataset', {})
        datasets = dataset.get('datasets', [dataset])  # ConcatDataset
        for i, ds in enumerate(datasets):
            root = ds.get('data_root')
            if root and not osp.isdir(root):
                raise ConfigCheckError(
                    f'{cfg.filename}: `{split}_dataloader.dataset'
                    f'{f".datasets[{i}]" if len(datasets) > 1 else ""}'
                    f'.data_root` = {root!r} does not exist')
    load_from = cfg.get('load_from')
    if load_from and '://' not in str(load_from) and not osp.isfile(
            load_from):
        raise ConfigCheckError(
            f'{cfg.filename}: `load_from` = {load_from!r}: no such '
            'checkpoint file')


def ensure_config_data(cfg: Config) -> None:
    """Generate the synthetic data named in ``cfg.synthetic_data`` if it
    is missing.

    ``synthetic_data`` holds the keyword arguments of
    :func:`hdr_mm.datasets.synthetic.ensure_synthetic_hands` (``out_dir``,
    ``num_samples``, ...), or a list of such dicts for a config that reads
    several generated folders (e.g. trains on one and tests on another).
    Processes that start together wait on a lock file beside ``out_dir``
    so the data is generated once.
    """
    specs = cfg.get('synthetic_data')
    if not specs:
        return
    from hdr_mm.datasets.synthetic import ensure_synthetic_hands
    if not isinstance(specs, (list, tuple)):
        specs = [specs]
    for spec in specs:
        spec = dict(spec)
        out_dir = spec['out_dir']
        os.makedirs(osp.dirname(osp.abspath(out_dir)), exist_ok=True)
        with open(osp.abspath(out_dir).rstrip('/') + '.lock', 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                ensure_synthetic_hands(**spec)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


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
        Runner: built from ``cfg`` (or by ``cfg.runner_type``).
    """
    ensure_config_data(cfg)
    check_config(cfg)
    use_gloo_without_cuda(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
