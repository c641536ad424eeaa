"""Mixed precision training on CPU with bfloat16 autocast."""
from contextlib import contextmanager

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.optim import OptimWrapper


@OPTIM_WRAPPERS.register_module()
class CPUBF16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast`` with
    bfloat16 on the CPU.

    mmengine 0.10.7's ``AmpOptimWrapper`` refuses a CPU-only machine.
    bfloat16 has float32's exponent range, so no loss scaling is needed:
    the weights, gradients and optimiser state stay float32, only the
    autocast-eligible ops (convolutions, matmuls) run in bfloat16, which
    is faster on CPUs with AMX/AVX512-BF16.

    Args:
        *args, **kwargs: :class:`mmengine.optim.OptimWrapper` arguments.
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=torch.bfloat16):
            yield
