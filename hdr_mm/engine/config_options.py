"""Merging ``--cfg-options`` into a config, refusing keys that would be
ignored.

mmengine's ``Config.merge_from_dict`` adds any key it is given, so a
misspelled option (``test_dataloder.batch_size=2``) adds a key that
nothing reads and the run goes on with the old value. Here every key
path is walked down the config first:

- a key that the config has is always accepted (list items by index);
- a key that the config lacks is accepted only where it can take
  effect:

  - at the top level, when the Runner (or hdr_mm's tools) reads it
    (``load_from``, ``resume``, ``randomness``, ``synthetic_data``...);
  - in a component dict (one with a ``type``), when its class or
    function takes an argument of that name; a component that takes
    ``**kwargs`` of unknown destination accepts new keys unless one of
    its keys is a close match (then it is taken for a typo);
  - in a dataloader dict, when ``torch.utils.data.DataLoader`` takes it;
  - in any other dict, unless one of its keys is a close match;

  below a key that the config lacks nothing is checked (there is nothing
  to compare with).

A refused key is an error that lists the closest existing names. A
top-level ``data_root`` option also replaces the old top-level value in
the ``data_root`` of every dataloader's dataset that had it (configs
copy the top-level value into the datasets when they are read).
"""
from typing import Any, Dict, List, Optional, Set

from mmengine.config import Config
from mmengine.logging import print_log

from .config_check import (BUILDER_KEYS, HOOK_KEYS, LOOP_INJECTED,
                           accepted_args, close_matches, iter_datasets,
                           resolve_type, scope_registries)


class ConfigOptionError(ValueError):
    """A ``--cfg-options`` key would be ignored."""


#: Top-level keys read by mmengine 0.10.7's Runner (its arguments and
#: what ``from_cfg`` and the model wrapping read) and by hdr_mm's tools.
TOP_LEVEL_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
    'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
    'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'model_wrapper_cfg', 'find_unused_parameters', 'compile',
    'activation_checkpointing', 'efficient_conv_bn_eval', 'sync_bn',
    'runner_type', 'custom_imports', 'synthetic_data'
})
#: A new key whose name is at least this similar to an existing one is
#: taken for a typo of it.
TYPO_CUTOFF = 0.8
#: The help text of the tools' ``--cfg-options``.
CFG_OPTIONS_HELP = (
    'override settings of the config, `key=value` pairs (nested keys with '
    'dots, list items by index: train_dataloader.dataset.pipeline.0.'
    'type=...). A key the config does not have is refused when nothing '
    'would read it: at the top level unless the Runner reads it (e.g. '
    'load_from, randomness.seed), in a component (a dict with `type`) '
    'unless its class takes that argument, and anywhere when an existing '
    'key is a close match (a typo). `data_root=DIR` also moves the '
    'dataloaders that used the old top-level data_root to DIR.')


def _dataloader_args() -> Set[str]:
    from torch.utils.data import DataLoader
    names, _ = accepted_args(DataLoader)
    return names | {'num_batch_per_epoch', 'disable_subprocess_warning'}


def _loop_args(name: str, node: dict, scope: str) -> Optional[Set[str]]:
    """Arguments of the loop an untyped ``train/val/test_cfg`` builds."""
    if 'type' in node:
        return None
    if name == 'train_cfg':
        types, extra = ['EpochBasedTrainLoop', 'IterBasedTrainLoop'], {
            'by_epoch'
        }
    else:
        types = ['ValLoop' if name == 'val_cfg' else 'TestLoop']
        extra = set()
    names = set(extra)
    for t in types:
        for loop in resolve_type(t, scope_registries(scope)):
            names |= accepted_args(loop)[0]
    return names - LOOP_INJECTED


def _known_names(path: List[str], node: dict,
                 scope: str) -> Optional[Set[str]]:
    """The keys ``node`` may have, or None when anything may be valid.

    Args:
        path: Key path of ``node``.
        node: A dict of the config.
        scope: Registry scope ``node`` is built in.
    """
    if not path:
        return set(TOP_LEVEL_KEYS)
    if len(path) == 1 and path[0] in ('train_cfg', 'val_cfg', 'test_cfg'):
        names = _loop_args(path[0], node, scope)
        if names is not None:
            return names
    if len(path) == 1 and path[0].endswith('_dataloader'):
        return _dataloader_args()
    type_name = node.get('type')
    if not isinstance(type_name, str):
        return None
    components = resolve_type(type_name, scope_registries(scope))
    if not components:
        return None  # unknown type: check_config names it
    names: Set[str] = set(BUILDER_KEYS)
    if path[0] in ('default_hooks', 'custom_hooks'):
        names |= HOOK_KEYS
    if path == ['optim_wrapper']:
        names |= {'constructor', 'paramwise_cfg'}  # optimizer constructor
    for component in components:
        accepted, is_open = accepted_args(component)
        if is_open:
            return None
        names |= accepted
    return names


def _refuse(key: str, where: str, part: str, hints: List[str],
            why: str) -> ConfigOptionError:
    if not hints:
        hint = f'Check the key path (at {where}).'
    else:
        hint = f'Did you mean {hints[0]!r}?'
        if len(hints) > 1:
            hint += f' (also close: {", ".join(map(repr, hints[1:]))})'
    return ConfigOptionError(
        f'--cfg-options {key}: {why}; `{part}` would be ignored. {hint}')


def _consumer(path: List[str], node: dict) -> str:
    """What reads the dict at ``path``, for messages."""
    if len(path) == 1 and path[0].endswith('_dataloader'):
        return "torch's DataLoader"
    if len(path) == 1 and path[0].endswith('_cfg') and 'type' not in node:
        return {'train_cfg': 'the training loop', 'val_cfg': 'ValLoop',
                'test_cfg': 'TestLoop'}.get(path[0], path[0])
    return str(node.get('type') or path[-1])


def _check_new_key(key: str, path: List[str], node: dict, part: str,
                   scope: str) -> None:
    """Refuse ``part``, absent from ``node``, if it would be ignored."""
    where = '.'.join(path) or 'the top level'
    existing = [str(k) for k in node]
    known = _known_names(path, node, scope)
    if known is not None and part not in known:
        hints = close_matches(part, sorted(set(existing) | known))
        if not path:
            why = ('the config has no top-level key of that name and the '
                   'Runner reads none')
        else:
            why = (f'`{where}` has no such key and '
                   f'{_consumer(path, node)} takes no such argument')
        raise _refuse(key, where, part, hints, why)
    typos = close_matches(part, existing, cutoff=TYPO_CUTOFF)
    if typos:
        raise _refuse(key, where, part, typos,
                      f'`{where}` has no such key but has similar ones')


def check_cfg_options(cfg: Config, options: Dict[str, Any]) -> None:
    """Refuse ``--cfg-options`` keys that nothing would read (the rule is
    in the module docstring).

    Args:
        cfg: The config the options will be merged into.
        options: ``key path -> value`` as parsed by mmengine's
            ``DictAction``.

    Raises:
        ConfigOptionError: naming the option, where it failed and the
            closest existing keys.
    """
    tree = cfg.to_dict()
    default_scope = cfg.get('default_scope', None) or 'mmpose'
    for key in options:
        node: Any = tree
        scope = default_scope
        path: List[str] = []
        for part in key.split('.'):
            if isinstance(node, dict):
                if part not in node:
                    _check_new_key(key, path, node, part, scope)
                    break
                type_name = node.get('type')
                if isinstance(type_name, str) and '.' in type_name:
                    scope = type_name.split('.')[0]
                node = node[part]
            elif isinstance(node, (list, tuple)):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigOptionError(
                        f'--cfg-options {key}: `{".".join(path)}` is a list '
                        f'of {len(node)} items; {part!r} is not an index of '
                        'it')
                node = node[int(part)]
            elif node is None:
                break  # a disabled part (e.g. val_cfg=None) set anew
            else:
                raise ConfigOptionError(
                    f'--cfg-options {key}: `{".".join(path)}` is '
                    f'{node!r}, not a dict; it has no key {part!r}')
            path.append(part)


def merge_cfg_options(cfg: Config, options: Optional[Dict[str,
                                                          Any]]) -> Config:
    """Check ``--cfg-options`` and merge them into ``cfg``.

    A ``data_root`` option also moves every dataloader dataset whose
    ``data_root`` was the old top-level value (and that the options do
    not set themselves) to the new one.

    Args:
        cfg: The config (changed in place).
        options: ``key path -> value``; None or empty changes nothing.

    Returns:
        Config: ``cfg``.

    Raises:
        ConfigOptionError: an option key would be ignored.
    """
    if not options:
        return cfg
    check_cfg_options(cfg, options)
    old_root = cfg.get('data_root')
    cfg.merge_from_dict(options)
    if 'data_root' not in options or not isinstance(old_root, str):
        return cfg
    new_root = options['data_root']
    for path, ds in iter_datasets(cfg):
        if f'{path}.data_root' in options or ds.get('data_root') != old_root:
            continue
        ds['data_root'] = new_root
        print_log(f'--cfg-options data_root={new_root}: `{path}.data_root` '
                  f'follows it (it was the old data_root {old_root!r})',
                  logger='current')
    return cfg
