"""Key mapping from the authors' TDR checkpoints to hdr_mm's TDR.

Generator (``tdr_generator`` in the reference manifest) and
discriminator (``tdr_discriminator``) files map key by key:

- ``enc_<i>.conv.input_conv.*`` -> ``encoders.<i-1>.pconv.conv.*``,
  ``enc_<i>.bn.*`` -> ``encoders.<i-1>.norm.*`` (same for ``dec_<i>``);
- ``<enc|dec>_<i>_transformer.block1.<j>.*`` ->
  ``transformers.<enc|dec><i>.blocks.<j>.*`` with ``attn.norm`` ->
  ``attn.sr_norm`` and ``mlp.dwconv.dwconv`` -> ``mlp.dwconv``;
  ``<...>_transformer.norm1.*`` -> ``transformers.<...>.norm.*``;
- ``*.mask_conv.weight``: the frozen all-ones coverage kernels, which
  :class:`PartialConv2d` computes without storing; they are checked to be
  all ones and dropped;
- discriminator ``conv<k>.0.weight_{orig,u,v}`` ->
  ``convs.<k-1>.weight_{orig,u,v}``; ``features.0.*`` is the same module
  as ``conv1.0`` saved twice, checked equal and dropped.
"""
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import torch

from hdr_mm.utils.checkpoint import CheckpointKeyError

#: marker for keys that are verified and not carried over
DROP = '<dropped>'

_GEN_RULES: List[Tuple[str, Callable[[re.Match], str]]] = [
    (r'(enc|dec)_(\d+)\.conv\.input_conv\.(weight|bias)$',
     lambda m: f'{_level(m)}.pconv.conv.{m[3]}'),
    (r'(enc|dec)_(\d+)\.conv\.mask_conv\.weight$', lambda m: DROP),
    (r'(enc|dec)_(\d+)\.bn\.(\w+)$', lambda m: f'{_level(m)}.norm.{m[3]}'),
    (r'(enc|dec)_(\d+)_transformer\.norm1\.(weight|bias)$',
     lambda m: f'transformers.{m[1]}{m[2]}.norm.{m[3]}'),
    (r'(enc|dec)_(\d+)_transformer\.block1\.(\d+)\.(.+)$',
     lambda m: f'transformers.{m[1]}{m[2]}.blocks.{m[3]}.' +
     _block_key(m[4])),
]

_DISC_RULES: List[Tuple[str, Callable[[re.Match], str]]] = [
    (r'conv(\d+)\.0\.(weight_orig|weight_u|weight_v)$',
     lambda m: f'convs.{int(m[1]) - 1}.{m[2]}'),
    (r'features\.0\.(weight_orig|weight_u|weight_v)$', lambda m: DROP),
]


def _level(m: re.Match) -> str:
    kind = 'encoders' if m[1] == 'enc' else 'decoders'
    return f'{kind}.{int(m[2]) - 1}'


def _block_key(rest: str) -> str:
    if rest.startswith('attn.norm.'):
        return 'attn.sr_norm.' + rest[len('attn.norm.'):]
    if rest.startswith('mlp.dwconv.dwconv.'):
        return 'mlp.dwconv.' + rest[len('mlp.dwconv.dwconv.'):]
    return rest


def _key_map(keys, rules, what: str) -> Dict[str, str]:
    out, unknown = {}, []
    for k in keys:
        for pattern, fn in rules:
            m = re.match(pattern, k)
            if m:
                out[k] = fn(m)
                break
        else:
            unknown.append(k)
    if unknown:
        raise CheckpointKeyError(
            f'{what}: {len(unknown)} key(s) of no known TDR layer: '
            f'{unknown[:10]}')
    return out


def generator_key_map(keys) -> Dict[str, str]:
    """Their generator key -> our ``PConvUNet`` key (or :data:`DROP`)."""
    return _key_map(keys, _GEN_RULES, 'TDR generator checkpoint')


def discriminator_key_map(keys) -> Dict[str, str]:
    """Their discriminator key -> our ``InpaintDiscriminator`` key (or
    :data:`DROP`)."""
    return _key_map(keys, _DISC_RULES, 'TDR discriminator checkpoint')


def convert_generator(src: Mapping[str, torch.Tensor]
                      ) -> 'OrderedDict[str, torch.Tensor]':
    """Convert the authors' generator state dict to ``PConvUNet`` keys.

    Raises:
        CheckpointKeyError: an unknown key.
        ValueError: a ``mask_conv`` weight that is not all ones (the
            network would not be a partial conv as specified).
    """
    out = OrderedDict()
    for k, new in generator_key_map(src.keys()).items():
        if new == DROP:
            if not bool((src[k] == 1).all()):
                raise ValueError(
                    f'{k}: mask_conv weights must be all ones (the frozen '
                    'coverage kernel of a partial conv); this checkpoint '
                    'holds other values')
            continue
        out[new] = src[k]
    return out


def convert_discriminator(src: Mapping[str, torch.Tensor]
                          ) -> 'OrderedDict[str, torch.Tensor]':
    """Convert the authors' discriminator state dict.

    Raises:
        CheckpointKeyError: an unknown key, or ``features.0.*`` without
            its ``conv1.0.*`` twin.
        ValueError: ``features.0.*`` differs from ``conv1.0.*``.
    """
    out = OrderedDict()
    for k, new in discriminator_key_map(src.keys()).items():
        if new == DROP:
            twin = k.replace('features.0.', 'conv1.0.')
            if twin not in src:
                raise CheckpointKeyError(f'{k} present without {twin}')
            if not torch.equal(src[k], src[twin]):
                raise ValueError(f'{k} differs from {twin}; they should be '
                                 'the same module saved twice')
            continue
        out[new] = src[k]
    return out


def convert_tdr(generator: Mapping[str, torch.Tensor],
                discriminator: Optional[Mapping[str, torch.Tensor]] = None
                ) -> 'OrderedDict[str, torch.Tensor]':
    """State dict of the whole :class:`TDR` model (``generator.*`` and,
    if given, ``discriminator.*``)."""
    out = OrderedDict(
        (f'generator.{k}', v) for k, v in convert_generator(generator).items())
    if discriminator is not None:
        out.update((f'discriminator.{k}', v)
                   for k, v in convert_discriminator(discriminator).items())
    return out
