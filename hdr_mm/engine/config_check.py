"""Checking a config before anything is built from it.

A misspelled component type, argument or path otherwise fails late: a
``KeyError`` from a registry while the Runner is being built, a data root
that the dataloaders never read, or a hook argument that breaks the first
checkpoint save after the training time is spent. The checks here run
before the Runner (``tools/train.py``, ``tools/test.py``, ``mim``) or the
inferencer is built, and name the config key, what was found and the
closest valid names.
"""
import difflib
import importlib
import inspect
import os.path as osp
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Set, Tuple, Union)

from mmengine.config import Config, ConfigDict
from mmengine.registry import Registry

from hdr_mm.utils.user_files import read_config


class ConfigCheckError(ValueError):
    """A config names something that does not exist."""


#: Arguments that the registries or the Runner take out of a component's
#: dict before its class is called, so they are valid for any component.
BUILDER_KEYS = frozenset({'type', '_scope_', '_delete_'})
#: ``priority`` is taken by ``Runner.register_hook``.
HOOK_KEYS = BUILDER_KEYS | {'priority'}
#: Arguments the Runner passes to loops itself.
LOOP_INJECTED = frozenset({'runner', 'dataloader', 'evaluator'})
#: Config keys whose dict has a ``type`` that is no registry name: mmdet's
#: ``nms=dict(type='nms' | 'soft_nms', ...)``, which mmcv's
#: ``batched_nms`` resolves to a function of ``mmcv.ops``.
UNREGISTERED_TYPE_KEYS = frozenset({'nms'})


def iter_typed(node: Any,
               path: str = '',
               scope: str = 'mmpose') -> Iterator[Tuple[str, dict, str]]:
    """Yield ``(key path, dict, scope)`` for every dict with a string
    ``type``.

    A component named with a scope prefix (``mmseg.EncoderDecoder``)
    builds its children in that scope, so their unprefixed types are
    looked up there. Dicts under a key of :data:`UNREGISTERED_TYPE_KEYS`
    are skipped: their ``type`` is not a registry name.

    Args:
        node: A config (as plain dicts and lists) or part of one.
        path: Key path of ``node``.
        scope: Registry scope ``node`` is built in.
    """
    if isinstance(node, dict):
        t = node.get('type')
        if isinstance(t, str) and path.rsplit('.', 1)[-1] not in \
                UNREGISTERED_TYPE_KEYS:
            yield path or '<root>', node, scope
            if '.' in t:
                scope = t.split('.')[0]
        for k, v in node.items():
            yield from iter_typed(v, f'{path}.{k}' if path else str(k),
                                  scope)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from iter_typed(v, f'{path}[{i}]', scope)


def scope_registries(scope: str) -> List[Registry]:
    """Every registry of a scope's package (``<scope>.registry``): a
    config type may live in any of them, and their parents hold
    mmengine's components."""
    try:
        module = importlib.import_module(f'{scope}.registry')
    except ImportError:
        module = importlib.import_module('mmengine.registry')
    return [
        getattr(module, name) for name in dir(module)
        if isinstance(getattr(module, name), Registry)
    ]


def resolve_type(type_name: str, registries: Sequence[Registry]
                 ) -> List[Callable]:
    """The classes or functions registered as ``type_name``.

    Args:
        type_name: A config ``type`` (with or without scope prefix).
        registries: Where to look.

    Returns:
        list: Every distinct object found (empty if none).
    """
    found = []
    for registry in registries:
        try:
            obj = registry.get(type_name)
        except (KeyError, ImportError):
            continue
        if obj is not None and obj not in found:
            found.append(obj)
    return found


def close_matches(name: str, names: Sequence[str],
                  cutoff: float = 0.6) -> List[str]:
    """Up to three of ``names`` that look like ``name``."""
    return difflib.get_close_matches(
        name.split('.')[-1], sorted(set(names)), n=3, cutoff=cutoff)


def _registered_names(registries: Sequence[Registry]) -> List[str]:
    names = set()
    for registry in registries:
        names.update(registry.module_dict)
    return sorted(names)


def _closed_kwargs() -> Dict[type, Set[str]]:
    """Classes whose ``**kwargs`` go to a known callee: the names that
    callee still accepts. ``CheckpointHook`` passes its ``**kwargs`` to
    ``Runner.save_checkpoint`` next to all of that method's arguments, so
    it accepts none: a typo there fails only at the first save."""
    from mmengine.hooks import CheckpointHook
    return {CheckpointHook: set()}


def accepted_args(component: Callable) -> Tuple[Set[str], bool]:
    """The keyword arguments a component accepts.

    A class's ``__init__`` that takes ``**kwargs`` is assumed to pass
    them on to its base class, whose arguments are added, up the MRO
    until an ``__init__`` without ``**kwargs``.

    Args:
        component: A registered class or function.

    Returns:
        tuple: ``(names, open)``; ``open`` is True when the component
        takes ``**kwargs`` whose destination is unknown (any name may be
        valid).
    """
    closed = _closed_kwargs()
    names: Set[str] = set()
    if not inspect.isclass(component):
        chain = [(None, component)]
    else:
        chain = [(klass, klass.__dict__['__init__'])
                 for klass in component.__mro__
                 if '__init__' in klass.__dict__ and klass is not object]
    for klass, func in chain:
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):  # a C-implemented __init__
            return names, True
        if klass is not None:
            params = params[1:]  # self
        var_kw = False
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                names.add(p.name)
            elif p.kind is p.VAR_KEYWORD:
                var_kw = True
        if not var_kw:
            return names, False
        if klass in closed:
            return names | closed[klass], False
    return names, True


def _where(cfg: Config) -> str:
    return cfg.filename or '<config>'


def check_types(cfg: Config) -> None:
    """Every ``type`` of the config must be registered.

    Args:
        cfg: The config.

    Raises:
        ConfigCheckError: naming the key, the type and close matches.
    """
    default_scope = cfg.get('default_scope', None) or 'mmpose'
    for path, node, scope in iter_typed(cfg.to_dict(), scope=default_scope):
        type_name = node['type']
        registries = scope_registries(scope)
        if not resolve_type(type_name, registries):
            hint = close_matches(type_name, _registered_names(registries))
            raise ConfigCheckError(
                f'{_where(cfg)}: `{path}.type` = {type_name!r} is not a '
                f'registered component (scope {scope!r}). '
                + (f'Did you mean {hint}?' if hint else
                   'Is `custom_imports` missing the package that defines '
                   'it?'))


def iter_datasets(cfg: Union[Config, dict]) -> Iterator[Tuple[str, dict]]:
    """Yield ``(key path, dataset dict)`` for the dataset of every
    dataloader, the members of a ``ConcatDataset`` and the dataset of a
    wrapper (``RepeatDataset``...) included.

    Args:
        cfg: The config.
    """

    def walk(ds: Any, path: str) -> Iterator[Tuple[str, dict]]:
        if not isinstance(ds, dict):
            return
        yield path, ds
        if isinstance(ds.get('dataset'), dict):
            yield from walk(ds['dataset'], f'{path}.dataset')
        for i, sub in enumerate(ds.get('datasets') or []):
            yield from walk(sub, f'{path}.datasets.{i}')

    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            yield from walk(loader.get('dataset'),
                            f'{split}_dataloader.dataset')


def _inside(path: str, root: str) -> bool:
    path, root = osp.normpath(path), osp.normpath(root)
    return path == root or path.startswith(root.rstrip(osp.sep) + osp.sep)


def pending_data_dirs(cfg: Config) -> List[str]:
    """The ``out_dir`` of every ``synthetic_data`` entry of the config
    (a dict or a list of them) that is not generated yet: the Runner
    builder generates them (:func:`~hdr_mm.engine.runner_setup.
    ensure_config_data`).

    Args:
        cfg: The config.

    Returns:
        list[str]: the missing folders.
    """
    specs = cfg.get('synthetic_data') or []
    if isinstance(specs, dict):
        specs = [specs]
    return [
        spec['out_dir'] for spec in specs
        if isinstance(spec, dict) and isinstance(spec.get('out_dir'), str)
        and not osp.isdir(spec['out_dir'])
    ]


def check_data_roots(cfg: Config, pending: Sequence[str] = ()) -> None:
    """The dataloaders' data roots must exist and one of them must read
    the top-level ``data_root``.

    Configs define ``data_root = ...`` at the top and copy it into each
    dataset when the file is read; a child config that sets the top-level
    ``data_root`` alone leaves the dataloaders on the old folder. When no
    dataset reads the top-level ``data_root`` (nor a folder inside it),
    that is what happened, and it is refused. A config whose datasets
    read the top-level root *and* other folders (e.g. a test set
    generated apart, ``test_data_root``) states those on purpose.

    Args:
        cfg: The config.
        pending: Folders that will be generated before the data is read
            (:func:`pending_data_dirs`): a root inside one of them need
            not exist yet.

    Raises:
        ConfigCheckError: naming the key and both folders.
    """
    top = cfg.get('data_root')
    roots = [(path, ds.get('data_root')) for path, ds in iter_datasets(cfg)]
    roots = [(p, r) for p, r in roots if isinstance(r, str) and r]
    if isinstance(top, str) and top and roots and not any(
            _inside(r, top) for _, r in roots):
        path, root = roots[0]
        raise ConfigCheckError(
            f'{_where(cfg)}: `data_root` = {top!r} but `{path}.data_root`'
            f' = {root!r} (and no dataloader reads the top-level folder): '
            'the dataloaders do not read the top-level `data_root` (its '
            'value was copied into them when the config was read). Set '
            'the dataset\'s `data_root` too, e.g. in the child config, or '
            'override with `--cfg-options data_root=...`, which updates '
            'both.')
    for path, root in roots:
        if not osp.isdir(root) and not any(
                _inside(root, folder) for folder in pending):
            raise ConfigCheckError(
                f'{_where(cfg)}: `{path}.data_root` = {root!r} does not '
                'exist')


def _component_error(cfg: Config, path: str, type_name: str,
                     bad: Sequence[str], names: Set[str],
                     component: Callable) -> ConfigCheckError:
    parts = []
    for b in sorted(bad):
        hint = close_matches(b, names)
        parts.append(f'{b!r}' + (f' (did you mean {hint[0]!r}?)'
                                 if hint else ''))
    return ConfigCheckError(
        f'{_where(cfg)}: `{path}` ({type_name}, '
        f'{getattr(component, "__module__", "?")}) has no argument '
        f'{", ".join(parts)}. Its arguments: '
        f'{", ".join(sorted(names - LOOP_INJECTED))}.')


def _check_component(cfg: Config, path: str, node: dict, scope: str,
                     ignore: Set[str] = BUILDER_KEYS,
                     type_name: Optional[str] = None,
                     registry: str = 'HOOKS') -> None:
    """Check the keys of a component dict against its signature."""
    type_name = type_name or node.get('type')
    if not isinstance(type_name, str):
        return  # an object, or filled in by the Runner
    module = importlib.import_module('mmengine.registry')
    try:
        module = importlib.import_module(f'{scope}.registry')
    except ImportError:
        pass
    components = resolve_type(type_name, [getattr(module, registry)])
    if not components:
        return  # an unknown type is check_types' error
    bad: Optional[Set[str]] = None
    names: Set[str] = set()
    for component in components:
        accepted, is_open = accepted_args(component)
        names |= accepted
        if is_open:
            return
        missing = {k for k in node if k not in accepted and k not in ignore}
        bad = missing if bad is None else bad & missing
    if bad:
        raise _component_error(cfg, path, type_name, bad, names,
                               components[0])


def check_hook_and_loop_args(cfg: Config) -> None:
    """The arguments of hooks (``default_hooks``, ``custom_hooks``) and
    loops (``train_cfg``, ``val_cfg``, ``test_cfg``) must be arguments of
    the classes they build.

    Args:
        cfg: The config.

    Raises:
        ConfigCheckError: naming the key, the class, close matches and
            the class's arguments.
    """
    scope = cfg.get('default_scope', None) or 'mmpose'
    hooks: List[Tuple[str, Any]] = [
        (f'default_hooks.{k}', v)
        for k, v in (cfg.get('default_hooks') or {}).items()
    ]
    hooks += [(f'custom_hooks[{i}]', h)
              for i, h in enumerate(cfg.get('custom_hooks') or [])]
    for path, hook in hooks:
        if isinstance(hook, dict):
            _check_component(cfg, path, hook, scope, HOOK_KEYS)
    for name, default in (('train_cfg', None), ('val_cfg', 'ValLoop'),
                          ('test_cfg', 'TestLoop')):
        loop = cfg.get(name)
        if not isinstance(loop, dict):
            continue
        type_name = loop.get('type')
        ignore = set(BUILDER_KEYS | LOOP_INJECTED)
        if type_name is None and name == 'train_cfg':
            ignore.add('by_epoch')
            type_name = ('EpochBasedTrainLoop' if loop.get(
                'by_epoch', False) else 'IterBasedTrainLoop')
        _check_component(cfg, name, loop, scope, ignore,
                         type_name or default, registry='LOOPS')


def check_load_from(cfg: Config) -> None:
    """``load_from`` must exist when it names a local file.

    Raises:
        ConfigCheckError: naming the file.
    """
    load_from = cfg.get('load_from')
    if load_from and '://' not in str(load_from) and not osp.isfile(
            load_from):
        raise ConfigCheckError(
            f'{_where(cfg)}: `load_from` = {load_from!r}: no such '
            'checkpoint file')


def check_config(cfg: Config, before_data: bool = False) -> None:
    """Fail early on names in a config that cannot be resolved.

    Checks that every ``type`` resolves in a registry, that hook and loop
    arguments are arguments of their classes, that the ``data_root`` of
    every dataloader's dataset exists and agrees with a top-level
    ``data_root``, and that ``load_from`` exists when it names a local
    file.

    Args:
        cfg: The merged config (after ``--cfg-options``).
        before_data: The config's ``synthetic_data`` is not generated
            yet (a check before the Runner builder generates it, e.g. of
            every stage before a job starts): data roots inside those
            folders need not exist.

    Raises:
        ConfigCheckError: naming the config key and what was expected.
    """
    check_types(cfg)
    check_hook_and_loop_args(cfg)
    check_data_roots(cfg, pending_data_dirs(cfg) if before_data else ())
    check_load_from(cfg)


def check_inference_config(model: Union[str, Config, dict],
                           what: str = 'config') -> Config:
    """The checks of :func:`check_config` that apply to inference (the
    registered types), for the inferencer.

    Data roots and ``load_from`` are not checked: inference reads neither.

    Args:
        model: Config file (read by :func:`hdr_mm.utils.read_config`),
            ``Config`` or dict.
        what: What the file is meant to be, for the messages.

    Returns:
        Config: the config, read from the file if a path was given.

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigFileError: it cannot be read or has no ``model``.
        ConfigCheckError: a ``type`` is not registered.
    """
    if isinstance(model, str):
        cfg = read_config(model, what)
    elif isinstance(model, Config):
        cfg = model
    elif isinstance(model, (dict, ConfigDict)):
        cfg = Config(dict(model))
    else:
        raise TypeError(f'expected a config file, Config or dict, got '
                        f'{type(model).__name__}')
    check_types(cfg)
    return cfg
