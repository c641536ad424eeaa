"""Inference precision of the stage networks: fp32 or bf16 (CPU autocast).

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

Two steps, done by the caller:

1. :func:`prepare_for_inference` once per network: eval mode, Conv+BN
   folding, ``channels_last`` weights and, for bf16, the weights of the
   convolutions and linear layers converted to bfloat16 once (autocast
   alone would convert them again at every call under ``no_grad``).
   The small output layers are marked float32 (:func:`keep_fp32`); a
   network lists them in a ``fp32_submodules`` class attribute.
2. :func:`inference_autocast` around every call of a network prepared
   for bf16 (a no-op context for fp32).

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
from typing import Any, Iterator, Optional

import torch
import torch.nn as nn

#: the supported inference precisions
PRECISIONS = ('fp32', 'bf16')
#: attribute a prepared module carries: its precision
PRECISION_ATTR = '_hdr_precision'
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
    """A floating-point tensor as float32; anything else unchanged."""
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


def _no_weights_forward(self: nn.Module, *args, **kwargs):
    kwargs.setdefault('need_weights', False)
    return type(self).forward(self, *args, **kwargs)


def skip_attention_weights(model: nn.Module) -> int:
    """Make every ``nn.MultiheadAttention`` of ``model`` skip returning
    its attention weights unless a caller asks for them explicitly.

    ``nn.MultiheadAttention`` returns head-averaged attention weights by
    default (``need_weights=True``), which keeps it off the fused
    scaled-dot-product-attention kernel; mmseg's MiT (HASM's backbone)
    calls it with the default and throws the weights away. Afterwards a
    call without ``need_weights`` returns ``(output, None)``.

    Returns:
        int: number of attention modules changed.
    """
    count = 0
    for m in model.modules():
        if isinstance(m, nn.MultiheadAttention) and \
                not getattr(m, '_hdr_no_weights', False):
            m.forward = types.MethodType(_no_weights_forward, m)
            m._hdr_no_weights = True
            count += 1
    return count


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm into the convolution before it.

    mmcv's ``fuse_conv_bn``: inside each module, a BatchNorm registered
    right after an ``nn.Conv2d`` sibling (mmcv's ConvModule, mmpose's
    Bottleneck, ``nn.Sequential(conv, bn)``) is folded into that
    convolution's weight and bias and replaced by ``nn.Identity``.
    BatchNorms after other modules (e.g. after a partial convolution)
    are left alone. Inference only: the model must be in eval mode.

    Returns:
        nn.Module: ``model`` (changed in place).
    """
    from mmcv.cnn import fuse_conv_bn as mmcv_fuse
    if any(m.training for m in model.modules()):
        raise RuntimeError('fuse_conv_bn: put the model in eval mode first '
                           '(BatchNorm folding uses the running statistics)')
    return mmcv_fuse(model)


def _is_matmul_module(module: nn.Module) -> bool:
    return isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear,
                               nn.ConvTranspose2d))


def to_channels_last(model: nn.Module,
                     respect_preference: bool = True) -> nn.Module:
    """Convert the 4D parameters and buffers of ``model`` to
    ``torch.channels_last``, in place.

    Args:
        model: Any module.
        respect_preference: Skip the subtree of every module whose
            ``channels_last_inference`` attribute is False.

    Returns:
        nn.Module: ``model``.
    """
    skipped = set()
    if respect_preference:
        for m in model.modules():
            if getattr(m, 'channels_last_inference', True) is False:
                skipped.update(id(x) for x in m.modules())
    for m in model.modules():
        if id(m) in skipped:
            continue
        for t in list(m.parameters(recurse=False)) + list(
                m.buffers(recurse=False)):
            if t.dim() == 4:
                t.data = t.data.contiguous(memory_format=torch.channels_last)
    return model


#: children compiled by ``prepare_for_inference(..., compile=True)``: the
#: networks the pipeline calls (their ``forward``); a model without any of
#: them is compiled itself
COMPILE_CHILDREN = ('backbone', 'neck', 'decode_head', 'head', 'generator')


def compile_for_inference(model: nn.Module, **compile_kwargs) -> int:
    """``torch.compile`` the networks of a stage model, in place.

    Uses ``nn.Module.compile`` (state dict, module types and attribute
    names unchanged) on each child of :data:`COMPILE_CHILDREN` that the
    model has, or on the model itself. Compilation happens at the first
    call of each (tens of seconds per network on 2 CPU cores, again for
    every new input shape).

    Args:
        model: A stage model or network.
        **compile_kwargs: Passed to ``torch.compile``.

    Returns:
        int: number of modules compiled.
    """
    targets = [getattr(model, n) for n in COMPILE_CHILDREN
               if isinstance(getattr(model, n, None), nn.Module)]
    for m in targets or [model]:
        m.compile(**compile_kwargs)
    return len(targets or [model])


def prepare_for_inference(model: nn.Module,
                          precision: str = 'fp32',
                          channels_last: Optional[bool] = None,
                          fuse_bn: bool = True,
                          compile: bool = False) -> nn.Module:
    """Prepare a stage network for fast inference, in place, once.

    Steps: eval mode; Conv+BatchNorm folding (:func:`fuse_conv_bn`);
    attention modules without their unused weights output
    (:func:`skip_attention_weights`); for bf16, marking the
    ``fp32_submodules`` of its parts float32
    (:func:`mark_fp32_submodules`); ``channels_last`` weights; for bf16,
    the weights (not the biases) of every convolution and linear layer
    outside the float32 parts converted to bfloat16. Normalisation
    layers keep float32 parameters.

    Args:
        model: A stage model or network (HASM segmentor, TDR generator,
            SHPE pose estimator, ...). Must not be trained afterwards.
        precision: ``'fp32'`` or ``'bf16'``. A bf16 model runs inside
            :func:`inference_autocast` ``('bf16')``.
        channels_last: Convert 4D weights to ``torch.channels_last`` (the
            convolutions then produce channels-last outputs; oneDNN's
            fastest layout on CPU). None (default): each part's own
            choice (:func:`to_channels_last`: a submodule whose
            ``channels_last_inference`` is False, e.g. TDR's generator,
            measured slower, keeps its layout).
        fuse_bn: Fold BatchNorms into convolutions.
        compile: Also ``torch.compile`` its networks
            (:func:`compile_for_inference`; inductor with weight freezing
            on CPU). The first call of each input shape then compiles.

    Returns:
        nn.Module: ``model``, with attribute ``_hdr_precision``.

    Raises:
        RuntimeError: the model was already prepared for another
            precision (rebuild it instead).
    """
    check_precision(precision)
    done = getattr(model, PRECISION_ATTR, None)
    if done is not None:
        if done != precision:
            raise RuntimeError(
                f'prepare_for_inference: model already prepared for '
                f'{done}, asked for {precision}; rebuild it')
        return model
    model.eval()
    if fuse_bn:
        fuse_conv_bn(model)
    skip_attention_weights(model)
    if precision == 'bf16':
        mark_fp32_submodules(model)
    if channels_last is not False:
        to_channels_last(model, respect_preference=channels_last is None)
    if precision == 'bf16':
        kept = set()
        for m in model.modules():
            if is_kept_fp32(m):
                kept.update(id(x) for x in m.modules())
        for m in model.modules():
            if id(m) in kept or not _is_matmul_module(m):
                continue
            w = m.weight
            m.weight.data = w.data.to(
                torch.bfloat16,
                memory_format=(torch.channels_last
                               if channels_last and w.dim() == 4 else
                               torch.preserve_format))
    for p in model.parameters():
        p.requires_grad_(False)
    if compile:
        import torch._inductor.config as inductor_config
        # constant weights: folded BatchNorms and prepacked oneDNN weights
        inductor_config.freezing = True
        compile_for_inference(model)
    setattr(model, PRECISION_ATTR, precision)
    return model


def model_precision(model: nn.Module) -> Optional[str]:
    """The precision :func:`prepare_for_inference` prepared ``model`` for,
    None if it was not prepared."""
    return getattr(model, PRECISION_ATTR, None)
