"""Map the authors' SHPE (DetNet) state dict onto hdr_mm's SHPE model.

The authors' keys (group ``shpe_detnet`` of the reference manifest) are
``resnet.*`` for the trunk and ``hmap_0``/``dmap_0``/``lmap_0`` for the
three branches. hdr_mm's ``TopdownPoseEstimator`` with ``DetNetResNet``
and ``DetNetHead`` holds the same tensors under mmpose's ResNet names:

=====================================  ==================================
authors                                hdr_mm
=====================================  ==================================
``resnet.conv1`` / ``resnet.bn1``      ``backbone.conv1`` / ``backbone.bn1``
``resnet.block1.{0,1}.*``              ``backbone.layer1.{0,1}.*``
``resnet.pool.0.*``                    ``backbone.layer1.2.*``
``resnet.block{2,3}.i.*``              ``backbone.layer{2,3}.i.*``
``...shortcut.{0,1}``                  ``...downsample.{0,1}``
``resnet.squeeze.{0,1}``               ``backbone.squeeze.{conv,bn}``
``{h,d,l}map_0.project.{0,1}``         ``head.{heatmap,delta,location}_``
                                       ``branch.project.{conv,bn}``
``{h,d,l}map_0.prediction``            ``head.*_branch.predict``
=====================================  ==================================

Tensors are copied unchanged: the channel layouts already agree (delta and
location channels joint-major, coordinate channels x then y).
"""
import re
from collections import OrderedDict
from typing import Dict, Iterable, Mapping

import torch

from hdr_mm.utils.checkpoint import CheckpointKeyError, convert_state_dict

_BRANCHES = {'hmap_0': 'heatmap', 'dmap_0': 'delta', 'lmap_0': 'location'}


def shpe_key(key: str) -> str:
    """hdr_mm key of one of the authors' SHPE keys.

    Args:
        key: e.g. ``'resnet.pool.0.conv2.weight'``.

    Returns:
        str: e.g. ``'backbone.layer1.2.conv2.weight'``.

    Raises:
        CheckpointKeyError: the key is not part of the authors' layout.
    """
    m = re.fullmatch(r'resnet\.(conv1|bn1)\.(\w+)', key)
    if m:
        return f'backbone.{m[1]}.{m[2]}'
    m = re.fullmatch(r'resnet\.(block[123]|pool)\.(\d+)\.(.+)', key)
    if m:
        stage, idx, rest = m[1], int(m[2]), m[3]
        if stage == 'pool':
            stage, idx = 'layer1', 2 + idx
        else:
            stage = 'layer' + stage[-1]
        rest = re.sub(r'^shortcut\.', 'downsample.', rest)
        return f'backbone.{stage}.{idx}.{rest}'
    m = re.fullmatch(r'resnet\.squeeze\.([01])\.(\w+)', key)
    if m:
        return f'backbone.squeeze.{("conv", "bn")[int(m[1])]}.{m[2]}'
    m = re.fullmatch(r'([hdl]map_0)\.project\.([01])\.(\w+)', key)
    if m:
        return (f'head.{_BRANCHES[m[1]]}_branch.project.'
                f'{("conv", "bn")[int(m[2])]}.{m[3]}')
    m = re.fullmatch(r'([hdl]map_0)\.prediction\.(weight|bias)', key)
    if m:
        return f'head.{_BRANCHES[m[1]]}_branch.predict.{m[2]}'
    raise CheckpointKeyError(
        f'unexpected key in the SHPE checkpoint: {key!r} (expected the '
        "authors' DetNet layout: resnet.*, hmap_0.*, dmap_0.*, lmap_0.*)")


def shpe_key_map(keys: Iterable[str]) -> Dict[str, str]:
    """Authors' key -> hdr_mm key for every key given.

    Raises:
        CheckpointKeyError: listing all keys outside the authors' layout.
    """
    key_map, unexpected = {}, []
    for k in keys:
        try:
            key_map[k] = shpe_key(k)
        except CheckpointKeyError:
            unexpected.append(k)
    if unexpected:
        raise CheckpointKeyError(
            f'SHPE checkpoint: {len(unexpected)} unexpected key(s) '
            f'{unexpected[:10]}{"..." if len(unexpected) > 10 else ""}')
    return key_map


def convert_shpe_detnet(
    src: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
) -> 'OrderedDict[str, torch.Tensor]':
    """Convert the authors' SHPE state dict and check it against a model.

    Args:
        src: The authors' state dict (``module.`` prefixes already removed,
            see :func:`hdr_mm.utils.checkpoint.load_reference_state_dict`).
        expected: The target model's state dict (keys and shapes).

    Returns:
        OrderedDict: hdr_mm key -> tensor, one entry per model key.

    Raises:
        CheckpointKeyError: keys outside the authors' layout, or model keys
            left without a value (missing), with the lists.
        ValueError: a tensor whose shape differs from the model's.
    """
    out = convert_state_dict(src, shpe_key_map(src.keys()), 'SHPE checkpoint')
    missing = sorted(set(expected) - set(out))
    unexpected = sorted(set(out) - set(expected))
    if missing or unexpected:
        inverse = {v: k for k, v in shpe_key_map(src.keys()).items()}
        raise CheckpointKeyError(
            f'SHPE checkpoint vs model: {len(missing)} missing key(s) '
            f'{missing[:10]}, {len(unexpected)} unexpected key(s) '
            f'{[inverse[k] for k in unexpected[:10]]}')
    bad = [(k, tuple(v.shape), tuple(expected[k].shape))
           for k, v in out.items() if v.shape != expected[k].shape]
    if bad:
        raise ValueError('SHPE checkpoint: shape mismatch (key, checkpoint, '
                         f'model): {bad[:10]}')
    return out
