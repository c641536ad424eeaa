"""One-time preparation of a stage network for fast inference.

:func:`prepare_for_inference` runs once per network (HASM, the TDR
generator, SHPE) before timing-critical inference and combines:

- eval mode and BatchNorm folding into the convolution before it
  (:func:`fuse_conv_bn`);
- attention without its unused weights output
  (:func:`skip_attention_weights`);
- the precision (:mod:`.precision`): for bf16 the float32 read-out
  layers are marked and the other weights converted to bfloat16 once;
- ``channels_last`` weights where a part wants them
  (:func:`to_channels_last`);
- optionally ``torch.compile`` of its networks
  (:func:`compile_for_inference`).

Every call of a network prepared for bf16 then runs inside
:func:`~.precision.inference_autocast` (a no-op for fp32).
"""
import types
from typing import Optional

import torch
import torch.nn as nn

from .precision import check_precision, mark_fp32_submodules, weights_to_bf16

#: attribute a prepared module carries: its precision
PRECISION_ATTR = '_hdr_precision'


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
    (:func:`~.precision.mark_fp32_submodules`); ``channels_last``
    weights; for bf16, the weights (not the biases) of every convolution
    and linear layer outside the float32 parts converted to bfloat16
    (:func:`~.precision.weights_to_bf16`). Normalisation layers keep
    float32 parameters.

    Args:
        model: A stage model or network (HASM segmentor, TDR generator,
            SHPE pose estimator, ...). Must not be trained afterwards.
        precision: ``'fp32'`` or ``'bf16'``. A bf16 model runs inside
            :func:`~.precision.inference_autocast` ``('bf16')``.
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
        weights_to_bf16(model, channels_last=bool(channels_last))
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
