"""Mixed-precision training on CPU: bf16 autocast inside ``optim_context``.

mmengine's ``AmpOptimWrapper`` refuses to be built without CUDA/NPU/MLU
(and its loss scaler exists for fp16). On CPU, bfloat16 needs no loss
scaling: it has float32's exponent range, so gradients do not underflow.
This wrapper is an ordinary :class:`~mmengine.optim.OptimWrapper` whose
``optim_context`` additionally enters ``torch.autocast('cpu',
dtype=torch.bfloat16)``: the forward (and thus the loss) of every model
run inside it computes convolutions and matrix products in bf16, while
the parameters, their gradients and the optimiser state stay float32.

Models that step several optimisers (TDR's GAN, through an
``OptimWrapperDict`` built by ``MultiOptimWrapperConstructor``) get one
such wrapper per member; each member's ``optim_context`` then covers the
forward of its own network. ``tools/train.py --amp`` selects this wrapper
(for every member) when CUDA is not available.
"""
from contextlib import contextmanager
from typing import Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` training under CPU bf16 autocast.

    Registered in mmengine's root registry, so every scope (mmpose,
    mmseg) finds it: ``optim_wrapper = dict(type='CPUAmpOptimWrapper',
    optimizer=...)``.

    Args:
        dtype: Autocast dtype, ``'bfloat16'`` (default) or a
            ``torch.dtype``; CPU autocast supports bfloat16 (float16
            only on recent CPUs and without a loss scaler here, so it is
            refused).
        enabled: False turns autocast off (plain fp32 training with the
            same config, e.g. for an A/B comparison).
        **kwargs: As :class:`~mmengine.optim.OptimWrapper`
            (``optimizer``, ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 enabled: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            if dtype not in ('bfloat16', 'bf16'):
                raise ValueError(
                    "CPUAmpOptimWrapper: dtype must be 'bfloat16' (fp16 "
                    f'needs a loss scaler), got {dtype!r}')
            dtype = torch.bfloat16
        if dtype != torch.bfloat16:
            raise ValueError('CPUAmpOptimWrapper: dtype must be '
                             f'torch.bfloat16, got {dtype}')
        self.cast_dtype = dtype
        self.enabled = bool(enabled)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context of ``OptimWrapper`` plus CPU
        autocast.

        Args:
            model: The model whose forward runs inside.
        """
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.cast_dtype, enabled=self.enabled):
            yield
