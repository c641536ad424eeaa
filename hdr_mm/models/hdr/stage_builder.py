"""Building one HDR stage (HASM, TDR or SHPE) from its own config.

Each stage of the pipeline is trained on its own, with its own config and
checkpoint; the top-level model takes them as they are, so any stage can
be swapped for another model by pointing at another config/checkpoint.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional

import torch.nn as nn
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmpose.registry import MODELS


class StageCheckpointError(RuntimeError):
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
    ``(w, h)``) or ``crop_size`` (mmseg style, ``(h, w)``).

    Args:
        cfg: The stage's config.
        name: Stage name for messages.

    Returns:
        int: the side in pixels.

    Raises:
        KeyError: neither key is set.
        ValueError: the input is not square.
    """
    for key in ('input_size', 'crop_size'):
        size = cfg.get(key)
        if size is not None:
            size = (size, size) if isinstance(size, int) else size
            if size[0] != size[1]:
                raise ValueError(f'{name} stage: HDR needs square inputs, '
                                 f'the config has {key}={size}')
            return int(size[0])
    raise KeyError(f'{name} stage: its config states neither `input_size` '
                   'nor `crop_size`')


def build_stage(name: str,
                config: str,
                checkpoint: Optional[str] = None,
                cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a stage's model from a config file and load its weights.

    Args:
        name: Stage name for messages (``'hasm'``, ``'tdr'``, ``'shpe'``).
        config: Path of the stage's config file; its ``model`` is built.
        checkpoint: Weights to load strictly; None keeps the model's
            initialisation (for tests and for untrained baselines).
        cfg_options: Overrides merged into the stage config first.

    Returns:
        nn.Module: the stage model in eval mode.

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        StageCheckpointError: the checkpoint's keys or shapes do not match
            the model (naming the stage, both files and the keys).
    """
    config = resolve_config_path(name, config)
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{name} stage: {config} has no `model`')
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        model.init_weights()
    else:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'{name} stage: checkpoint file not found: {checkpoint}')
        try:
            load_checkpoint(
                model, checkpoint, map_location='cpu', strict=True,
                logger='silent')
        except RuntimeError as e:
            raise StageCheckpointError(
                f'{name} stage: checkpoint {checkpoint} does not match the '
                f'model of {config}: {e}') from e
    model.cfg = cfg
    return model.eval()


def combine_stage_checkpoints(checkpoints: Dict[str, str], out_file: str,
                              overwrite: bool = False) -> Dict[str, int]:
    """Write one checkpoint for :class:`HDRPoseEstimator` from the
    checkpoints that each stage's training wrote.

    The stages are submodules ``hasm``, ``tdr`` and ``shpe`` of the
    pipeline model, so their keys are prefixed with the stage name; the
    result loads with ``tools/test.py CONFIG CHECKPOINT`` like any mmpose
    model.

    Args:
        checkpoints: Stage name -> mmengine checkpoint file.
        out_file: Output file; never replaced unless ``overwrite``.
        overwrite: Replace ``out_file`` if it exists.

    Returns:
        dict: stage name -> number of tensors taken from it.
    """
    from mmengine.runner import CheckpointLoader

    from hdr_mm.utils import save_mmengine_checkpoint
    state_dict, counts = OrderedDict(), {}
    for stage, path in checkpoints.items():
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{stage} stage: checkpoint file not found: {path}')
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        sd = ckpt.get('state_dict', ckpt)
        counts[stage] = len(sd)
        state_dict.update((f'{stage}.{k}', v) for k, v in sd.items())
    save_mmengine_checkpoint(
        state_dict, out_file, meta=dict(stages=dict(checkpoints)),
        overwrite=overwrite)
    return counts
