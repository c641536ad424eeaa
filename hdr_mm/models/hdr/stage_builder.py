"""Building one HDR stage (HASM, TDR or SHPE) from its own config.

Each stage of the pipeline is trained on its own, with its own config and
checkpoint; the top-level model takes them as they are, so any stage can
be swapped for another model by pointing at another config/checkpoint.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint
from mmpose.registry import MODELS

from hdr_mm.utils.model_weights import (CheckpointMismatchError,
                                        checkpoint_state_dict, load_weights,
                                        model_shapes, weights_mismatch)
from hdr_mm.utils.user_files import read_config, require_file

#: The stages of ``HDRPoseEstimator``, in pipeline order.
STAGES = ('hasm', 'tdr', 'shpe')


class StageCheckpointError(CheckpointMismatchError):
    """A stage's checkpoint does not fit the model its config builds."""


def resolve_config_path(name: str, config: str) -> str:
    """Find a stage config given relative to the working directory or,
    failing that, to the hdr_mm checkout or its installed ``.mim`` folder
    (so that a pipeline config's ``configs/...`` paths work from anywhere,
    e.g. under ``mim test``).

    Raises:
        FileNotFoundError: naming the stage and every place looked at.
    """
    if osp.isfile(config) or osp.isabs(config):
        if not osp.isfile(config):
            raise FileNotFoundError(f'{name} stage: config file not found: '
                                    f'{config}')
        return config
    package = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    tried = [config]
    for root in (osp.dirname(package), osp.join(package, '.mim')):
        path = osp.join(root, config)
        if osp.isfile(path):
            return path
        tried.append(path)
    raise FileNotFoundError(f'{name} stage: config file not found: '
                            f'{config} (looked at {tried})')


def stage_input_size(cfg: Config, name: str) -> int:
    """Square input side of a stage, read from its config.

    A config states it at top level as ``input_size`` (mmpose style,
    ``(w, h)``) or ``crop_size`` (mmseg style, ``(h, w)``); failing both,
    the ``input_size`` of a top-level ``codec`` dict, where mmpose's stock
    top-down configs state it. When both ``input_size`` and the codec's
    are set, they must agree: the model decodes its joints at the codec's
    size, while HDR cuts the crops and maps the joints back at the size it
    reads here.

    Args:
        cfg: The stage's config.
        name: Stage name for messages.

    Returns:
        int: the side in pixels.

    Raises:
        KeyError: no key states the size.
        ValueError: the input is not square, or ``input_size`` and
            ``codec.input_size`` differ.
    """
    codec = cfg.get('codec')
    codec_size = codec.get('input_size') if isinstance(codec,
                                                       dict) else None
    for key, size in (('input_size', cfg.get('input_size')),
                      ('crop_size', cfg.get('crop_size')),
                      ('codec.input_size', codec_size)):
        if size is not None:
            size = (size, size) if isinstance(size, int) else tuple(size)
            if size[0] != size[1]:
                raise ValueError(f'{name} stage: HDR needs square inputs, '
                                 f'the config has {key}={size}')
            if codec_size is not None and tuple(codec_size) != size:
                raise ValueError(
                    f'{name} stage: the config has {key}={size} but '
                    f'codec.input_size={tuple(codec_size)}; set both to '
                    'the size the model was trained at')
            return int(size[0])
    raise KeyError(f'{name} stage: its config states neither `input_size` '
                   'nor `crop_size` nor `codec.input_size`')


def load_stage_config(name: str,
                      config: str,
                      cfg_options: Optional[dict] = None) -> Config:
    """Read a stage's config, merge its options and check it.

    Args:
        name: Stage name for messages.
        config: Path of the stage's config file (see
            :func:`resolve_config_path`).
        cfg_options: Overrides, checked like ``--cfg-options``.

    Returns:
        Config: the stage config, with ``filename`` set.

    Raises:
        FileNotFoundError: the config does not exist.
        ConfigFileError: it cannot be read (not a config file, a syntax
            error) or has no ``model``.
        ConfigOptionError: an option would be ignored.
        ConfigCheckError: a ``type`` is not registered.
    """
    from hdr_mm.engine.config_check import check_types
    from hdr_mm.engine.config_options import (ConfigOptionError,
                                              merge_cfg_options)
    config = resolve_config_path(name, config)
    cfg = read_config(config, f'{name} stage: config')
    try:
        merge_cfg_options(cfg, cfg_options)
    except ConfigOptionError as e:
        raise ConfigOptionError(f'{name} stage ({config}), cfg_options: '
                                f'{e}') from None
    check_types(cfg)
    return cfg


def _build_model(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` in the config's default scope (mmpose when it
    names none), whatever scope the caller is in."""
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', None) or 'mmpose'):
        return MODELS.build(cfg.model)


def build_stage(name: str,
                config: str,
                checkpoint: Optional[str] = None,
                cfg_options: Optional[dict] = None,
                unsafe_load: Optional[bool] = None) -> nn.Module:
    """Build a stage's model from a config file and load its weights.

    Args:
        name: Stage name for messages (``'hasm'``, ``'tdr'``, ``'shpe'``).
        config: Path of the stage's config file; its ``model`` is built.
        checkpoint: Weights to load strictly; None keeps the model's
            initialisation (for tests and for untrained baselines).
        cfg_options: Overrides merged into the stage config first.
        unsafe_load: Read ``checkpoint`` with a full unpickle (a crafted
            file can then run arbitrary code); None keeps the mode of an
            enclosing :func:`~hdr_mm.utils.checkpoint_loading.
            checkpoint_loading` (weights-only when there is none).

    Returns:
        nn.Module: the stage model in eval mode.

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        UnsafeCheckpointError: the checkpoint holds objects that a
            weights-only load refuses.
        StageCheckpointError: the checkpoint's keys or shapes do not match
            the model (naming the stage, both files and the keys).
    """
    cfg = load_stage_config(name, config, cfg_options)
    model = _build_model(cfg)
    if checkpoint is None:
        model.init_weights()
    else:
        load_weights(model, checkpoint, f'{name} stage: checkpoint',
                     f'the model of {cfg.filename}', unsafe_load,
                     error=StageCheckpointError)
    model.cfg = cfg
    return model.eval()


def _stage_shapes(name: str, spec: Mapping) -> Tuple[str, Dict[str, Tuple]]:
    """Config file and ``key -> shape`` of a stage model as its pipeline
    entry ``spec`` (``config``, ``cfg_options``) builds it."""
    cfg = load_stage_config(name, spec['config'], spec.get('cfg_options'))
    return cfg.filename, model_shapes(_build_model(cfg))


def _stage_state_dict(name: str, path: str) -> Mapping[str, torch.Tensor]:
    """The tensors of a stage checkpoint (inside ``checkpoint_loading``)."""
    path = require_file(path, f'{name} stage: checkpoint')
    ckpt = _load_checkpoint(path, map_location='cpu', logger='silent')
    return checkpoint_state_dict(ckpt, path, f'{name} stage:',
                                 StageCheckpointError)


def combine_stage_checkpoints(checkpoints: Dict[str, str],
                              out_file: str,
                              config: Union[str, Config],
                              overwrite: bool = False,
                              unsafe_load: bool = False) -> Dict[str, int]:
    """Write one checkpoint for :class:`HDRPoseEstimator` from the
    checkpoints that each stage's training wrote.

    The stages are submodules ``hasm``, ``tdr`` and ``shpe`` of the
    pipeline model, so their keys are prefixed with the stage name; the
    result loads with ``tools/test.py CONFIG CHECKPOINT`` like any mmpose
    model. Each stage checkpoint is checked first against the model that
    the pipeline config builds for that stage (keys and shapes), so a
    swapped or foreign file is refused before anything is written.

    Args:
        checkpoints: Stage name -> mmengine checkpoint file; every stage
            of the config's model must be given.
        out_file: Output file; never replaced unless ``overwrite``.
        config: The pipeline config (file or ``Config``) the result is
            for.
        overwrite: Replace ``out_file`` if it exists.
        unsafe_load: Read the stage checkpoints with a full unpickle (a
            crafted file can then run arbitrary code).

    Returns:
        dict: stage name -> number of tensors taken from it.

    Raises:
        FileNotFoundError: a checkpoint or config does not exist.
        UnsafeCheckpointError: a checkpoint holds objects that a
            weights-only load refuses.
        StageCheckpointError: a stage is missing, unknown, or its
            checkpoint does not fit its config.
        FileExistsError: ``out_file`` exists and ``overwrite`` is False.
    """
    from hdr_mm.utils import save_mmengine_checkpoint
    from hdr_mm.utils.checkpoint_loading import checkpoint_loading
    if osp.exists(out_file) and not overwrite:
        raise FileExistsError(
            f'{out_file} exists; pass --overwrite to replace it')
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    where = cfg.filename or 'the config'
    specs = {s: cfg.model.get(s) for s in STAGES}
    unknown = sorted(set(checkpoints) - set(STAGES))
    if unknown:
        raise StageCheckpointError(f'unknown stage(s) {unknown}; the '
                                   f'stages are {list(STAGES)}')
    for stage in STAGES:
        if specs[stage] is None and stage in checkpoints:
            raise StageCheckpointError(
                f'a {stage} checkpoint was given but the model of {where} '
                f'has no {stage} stage')
        if specs[stage] is not None and stage not in checkpoints:
            raise StageCheckpointError(
                f'no {stage} checkpoint: the model of {where} has a {stage} '
                'stage, and a pipeline checkpoint without it would not load')
    shapes = {s: _stage_shapes(s, specs[s]) for s in checkpoints}
    state_dict, counts = OrderedDict(), {}
    with checkpoint_loading(unsafe=unsafe_load):
        for stage, path in checkpoints.items():
            sd = _stage_state_dict(stage, path)
            problem = weights_mismatch(sd, shapes[stage][1])
            if problem:
                fits = [
                    s for s in checkpoints
                    if s != stage and not weights_mismatch(sd, shapes[s][1])
                ]
                raise StageCheckpointError(
                    f'{stage} checkpoint {path} does not fit the {stage} '
                    f'stage of {where} (model of {shapes[stage][0]}): '
                    f'{problem}' + (f'. It fits the {fits[0]} stage: were '
                                    f'the {stage} and {fits[0]} checkpoints '
                                    'swapped?' if fits else ''))
            counts[stage] = len(sd)
            state_dict.update((f'{stage}.{k}', v) for k, v in sd.items())
    save_mmengine_checkpoint(
        state_dict, out_file, meta=dict(stages=dict(checkpoints)),
        overwrite=overwrite)
    return counts
