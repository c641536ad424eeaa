"""Rename the authors' mmseg 0.x HASM checkpoints to hdr_mm's layout.

The authors trained HASM with a modified mmseg 0.x. Their state dict has

- ``backbone.*``: mmseg's ``MixVisionTransformer``; its key layout
  (``layers.<stage>.0`` patch embedding, ``layers.<stage>.1.<block>``
  encoder layers, ``layers.<stage>.2`` norm) is the same in mmseg 1.x, so
  these keys keep their names;
- ``decode_head.convs.<level>.{conv,bn}.*``: the shared per-level
  projections, also unchanged;
- ``decode_head.fusion_conv<k>.{conv,bn}.*`` and
  ``decode_head.conv_seg<k>.{weight,bias}`` for k = 1..4: the four branches,
  which :class:`HandAmodalSegformerHead` holds as ``fusion_convs.<k-1>`` and
  ``conv_segs.<k-1>``;
- ``decode_head.conv_seg.{weight,bias}``: the classifier every mmseg 0.x
  decode head creates; the authors' four-branch forward never uses it, so
  it is dropped (and reported).

Branch k of their head predicts, as ours, mask k-1 of
``[l_amodal, l_visible, r_amodal, r_visible]`` (the order of their label
folders).
"""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Tuple

import torch

from hdr_mm.utils.checkpoint import CheckpointKeyError, convert_state_dict

#: Keys of the 0.x checkpoint that have no counterpart and are dropped.
UNUSED_KEYS = ('decode_head.conv_seg.weight', 'decode_head.conv_seg.bias')

_RULES: Tuple[Tuple[re.Pattern, str], ...] = (
    (re.compile(r'^(backbone\.layers\.\d+\..+)$'), r'\1'),
    (re.compile(r'^(decode_head\.convs\.\d+\.(conv|bn)\..+)$'), r'\1'),
    (re.compile(r'^decode_head\.fusion_conv(\d+)\.((conv|bn)\..+)$'),
     'fusion_convs'),
    (re.compile(r'^decode_head\.conv_seg(\d+)\.(weight|bias)$'), 'conv_segs'),
)


def hasm_key_map(keys) -> Dict[str, str]:
    """Map every authors' key to ours.

    Args:
        keys: Keys of the authors' state dict, without :data:`UNUSED_KEYS`.

    Returns:
        dict: their key -> our key.

    Raises:
        CheckpointKeyError: a key matches no rule, or the branches are not
            numbered 1..K without gaps.
    """
    key_map, unknown, branches = {}, [], set()
    for key in keys:
        for pattern, target in _RULES:
            m = pattern.match(key)
            if m is None:
                continue
            if target in ('fusion_convs', 'conv_segs'):
                k = int(m.group(1))
                if k < 1:
                    break  # branches count from 1; reported as unknown
                branches.add(k)
                key_map[key] = f'decode_head.{target}.{k - 1}.{m.group(2)}'
            else:
                key_map[key] = m.expand(target)
            break
        if key not in key_map:
            unknown.append(key)
    if unknown:
        raise CheckpointKeyError(
            f'HASM mmseg 0.x checkpoint: {len(unknown)} key(s) match no '
            f'known MiT/four-branch-head name: {sorted(unknown)[:10]}')
    if branches and branches != set(range(1, max(branches) + 1)):
        raise CheckpointKeyError(
            f'HASM mmseg 0.x checkpoint: head branches {sorted(branches)} '
            'are not numbered 1..K without gaps')
    return key_map


def convert_hasm_mmseg0x(
    src: Mapping[str, torch.Tensor]
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Convert an authors' HASM state dict to :class:`HandAmodalSegmentor`.

    Args:
        src: Their state dict (already unwrapped, see
            :func:`hdr_mm.utils.load_reference_state_dict`).

    Returns:
        tuple: (our state dict, sorted list of the dropped keys).

    Raises:
        CheckpointKeyError: unknown keys, or a branch whose fusion conv or
            classifier is missing.
    """
    dropped = sorted(k for k in src if k in UNUSED_KEYS)
    kept = OrderedDict((k, v) for k, v in src.items() if k not in UNUSED_KEYS)
    out = convert_state_dict(kept, hasm_key_map(kept.keys()),
                             'HASM mmseg 0.x checkpoint')
    # Every branch needs both its fusion conv and its classifier.
    fusion = {k.split('.')[2] for k in out if '.fusion_convs.' in k}
    seg = {k.split('.')[2] for k in out if '.conv_segs.' in k}
    if fusion != seg:
        raise CheckpointKeyError(
            'HASM mmseg 0.x checkpoint: branches with a fusion conv '
            f'{sorted(fusion)} and with a classifier {sorted(seg)} differ '
            '(0-based)')
    return out, dropped
