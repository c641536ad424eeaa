"""Inference precision of the stage networks: fp32 or bf16 (autocast).

The pipeline's three networks (HASM, the TDR generator, SHPE) run in one
of two precisions:

- ``'fp32'``: float32 everywhere.
- ``'bf16'``: convolutions, linear layers and attention in bfloat16 under
  ``torch.autocast`` (oneDNN uses AMX or AVX512-BF16 where the CPU has
  them); everything numerically sensitive stays float32: normalisation
  statistics, the coverage and renormalisation of partial convolutions,
  and the small output layers whose values are read out (HASM's 2-class
  classifiers, whose arg-max gives the masks; the TDR layer that paints
  the image; SHPE's heat/delta/location predictors, whose arg-max and
  read-out give the joints).

This module holds the precision side: the float32 islands
(:func:`keep_fp32`, :func:`mark_fp32_submodules` for the layers a
network lists in its ``fp32_submodules`` class attribute,
:func:`fp32_region`, :func:`to_fp32`), the one-time conversion of the
other weights (:func:`weights_to_bf16`) and the context every call runs
in (:func:`inference_autocast`). A network is prepared once by
:func:`~hdr_mm.models.utils.inference_prep.prepare_for_inference`, which
also folds BatchNorms, sets the memory layout and optionally compiles.

Example::

    from hdr_mm.models.utils import (inference_autocast,
                                     prepare_for_inference)
    prepare_for_inference(model.shpe, 'bf16')
    with torch.no_grad(), inference_autocast('bf16'):
        maps = model.shpe.head.forward(model.shpe.extract_feat(x))
    # the maps are float32: the read-out layers stayed float32

A network prepared for bf16 must be called inside
:func:`inference_autocast` (its weights are bfloat16, its float32 inputs
are cast by autocast); calling it outside raises PyTorch's dtype error.
"""
import types
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

import torch
import torch.nn as nn

#: the supported inference precisions
PRECISIONS = ('fp32', 'bf16')
_DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16}


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`.

    Raises:
        ValueError: naming the supported values.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got '
                         f'{precision!r}')
    return precision


def precision_dtype(precision: str) -> torch.dtype:
    """``'fp32'`` -> ``torch.float32``, ``'bf16'`` -> ``torch.bfloat16``."""
    return _DTYPES[check_precision(precision)]


def cpu_bf16_isa() -> str:
    """The CPU's native bf16 matrix support as oneDNN sees it.

    Returns:
        str: ``'amx'`` (AMX tiles), ``'avx512_bf16'`` or ``'none'``
        (bf16 is then emulated and much slower than fp32: measure
        before using it, see ``tools/analysis_tools/benchmark.py``).
    """
    cpu = getattr(torch, 'cpu', None)
    try:
        if cpu is not None and cpu._is_amx_tile_supported():
            return 'amx'
        if cpu is not None and cpu._is_avx512_bf16_supported():
            return 'avx512_bf16'
    except AttributeError:  # older torch
        pass
    return 'none'


def inference_autocast(precision: str, device_type: str = 'cpu'):
    """The context every call of a prepared network runs in.

    Args:
        precision: ``'fp32'`` (no autocast) or ``'bf16'``.
        device_type: ``'cpu'`` or ``'cuda'``.

    Returns:
        A context manager: ``torch.autocast(device_type,
        dtype=torch.bfloat16)`` for bf16, a null context for fp32.
    """
    if check_precision(precision) == 'fp32':
        return nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16)


@contextmanager
def fp32_region() -> Iterator[None]:
    """Turn autocast off (CPU and CUDA) inside the block.

    Tensors computed by autocast outside stay in their dtype: cast them
    with :func:`to_fp32` before float32 work.
    """
    with torch.autocast('cpu', enabled=False):
        if torch.cuda.is_available():
            with torch.autocast('cuda', enabled=False):
                yield
        else:
            yield


def to_fp32(value: Any) -> Any:
    """A floating-point tensor as float32, a tuple or list of them (a
    backbone's multi-level features) element-wise; anything else
    unchanged."""
    if isinstance(value, (tuple, list)):
        return type(value)(to_fp32(v) for v in value)
    if isinstance(value, torch.Tensor) and value.is_floating_point() and \
            value.dtype != torch.float32:
        return value.float()
    return value


def _fp32_forward(self: nn.Module, *args, **kwargs):
    # bound to the instance (a deep copy rebinds it to the copy)
    args = tuple(to_fp32(a) for a in args)
    kwargs = {k: to_fp32(v) for k, v in kwargs.items()}
    with fp32_region():
        return type(self).forward(self, *args, **kwargs)


def keep_fp32(module: nn.Module) -> nn.Module:
    """Make ``module`` compute in float32 even under autocast.

    Its floating-point tensor arguments are cast to float32 and its
    forward runs with autocast off, so it returns float32. The module's
    state dict and parameters are unchanged (the instance gets its own
    ``forward``, which survives ``copy.deepcopy``); calling it twice is
    harmless.

    Args:
        module: A module whose parameters are float32.

    Returns:
        nn.Module: ``module`` itself.
    """
    if getattr(module, '_hdr_keep_fp32', False):
        return module
    module.forward = types.MethodType(_fp32_forward, module)
    module._hdr_keep_fp32 = True
    return module


def is_kept_fp32(module: nn.Module) -> bool:
    """Whether :func:`keep_fp32` was applied to ``module``."""
    return bool(getattr(module, '_hdr_keep_fp32', False))


def mark_fp32_submodules(model: nn.Module) -> int:
    """Apply :func:`keep_fp32` to every submodule a network names.

    Any module of ``model`` may list dotted names of its own submodules in
    a ``fp32_submodules`` class attribute (e.g. DetNetHead's read-out
    convolutions). An entry naming a ModuleList marks each member.

    Returns:
        int: number of modules marked.
    """
    count = 0
    for owner in list(model.modules()):
        for name in getattr(owner, 'fp32_submodules', ()):
            target = owner.get_submodule(name)
            members = (list(target) if isinstance(target, nn.ModuleList)
                       else [target])
            for m in members:
                if not is_kept_fp32(m):
                    keep_fp32(m)
                    count += 1
    return count


def _is_matmul_module(module: nn.Module) -> bool:
    return isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear,
                               nn.ConvTranspose2d))


def weights_to_bf16(model: nn.Module, channels_last: bool = False) -> int:
    """Convert the weights (not the biases) of every convolution and
    linear layer of ``model`` outside its float32 parts to bfloat16, in
    place.

    Autocast alone would convert them again at every call under
    ``no_grad``. Modules marked by :func:`keep_fp32` and everything
    inside them keep float32; so do normalisation layers.

    Args:
        model: A network in eval mode.
        channels_last: Store the 4D weights ``torch.channels_last``;
            otherwise each keeps its layout.

    Returns:
        int: number of weights converted.
    """
    kept = set()
    for m in model.modules():
        if is_kept_fp32(m):
            kept.update(id(x) for x in m.modules())
    count = 0
    for m in model.modules():
        if id(m) in kept or not _is_matmul_module(m):
            continue
        w = m.weight
        m.weight.data = w.data.to(
            torch.bfloat16,
            memory_format=(torch.channels_last
                           if channels_last and w.dim() == 4 else
                           torch.preserve_format))
        count += 1
    return count
