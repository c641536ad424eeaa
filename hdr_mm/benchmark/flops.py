"""FLOP counts of the stage networks (mmengine's ``FlopAnalyzer``, in
multiply-adds)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .pipeline import BenchInputs, stage_networks

#: element-wise, reduction and shape ops: not counted (their cost is
#: memory traffic, not multiply-adds); other ops without a formula are
#: reported
ELEMENTWISE_OPS = tuple(f'aten::{op}' for op in (
    'add', 'add_', 'sub', 'rsub', 'mul', 'mul_', 'div', 'div_',
    'reciprocal', 'neg', 'abs', 'pow', 'sqrt', 'rsqrt', 'exp', 'log',
    'round', 'floor', 'clamp', 'clamp_', 'where', 'masked_fill', 'addcmul',
    'relu', 'relu_', 'leaky_relu', 'leaky_relu_', 'gelu', 'sigmoid', 'tanh',
    'softmax', 'sum', 'mean', 'max', 'min', 'argmax', 'any', 'all',
    'eq', 'ne', 'gt', 'ge', 'lt', 'le', 'flip', 'numel', 'unflatten',
    'lift_fresh', 'linspace', 'arange', 'full', 'zeros', 'ones',
    'expand_as', 'repeat', 'type_as', 'contiguous', 'dropout', 'dropout_',
    'feature_dropout', 'bitwise_not', 'logical_not'))


def _shape(value: Any) -> Optional[List[int]]:
    """Shape of a traced value (a jit ``Value``), None if not a tensor."""
    ttype = value.type()
    if not isinstance(ttype, torch._C.TensorType):
        return None
    return ttype.sizes()


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FlopAnalyzer handle for ``aten::scaled_dot_product_attention``.

    ``softmax(q k^T) v`` with q (..., L, E), k (..., S, E), v (..., S, Ev)
    costs ``L*S*E`` multiply-adds for the scores and ``L*S*Ev`` for the
    weighted sum, per leading (batch, head) index; the softmax itself is
    not counted, as for the other element-wise ops.

    Args:
        inputs: The op's traced inputs (q, k, v first).
        outputs: Its traced outputs (unused).

    Returns:
        int: the multiply-adds.
    """
    q, k, v = (_shape(x) for x in inputs[:3])
    batch = int(np.prod(q[:-2])) if len(q) > 2 else 1
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def count_flops(module: nn.Module,
                inputs: Tuple[torch.Tensor, ...]) -> Dict[str, Any]:
    """Multiply-adds of one forward of ``module``.

    Counted by mmengine's ``FlopAnalyzer``, traced with ``torch.jit`` under
    no_grad, with :func:`sdpa_flop_jit` for attention and
    :data:`ELEMENTWISE_OPS` left out.

    Args:
        module: The network.
        inputs: Its positional inputs.

    Returns:
        dict: ``flops``, the total in multiply-adds (None when the tracer
        cannot follow the module); ``unsupported``, the ops other than
        :data:`ELEMENTWISE_OPS` it met but cannot count, name -> calls;
        ``error``, the tracer's message or None.
    """
    from mmengine.analysis import FlopAnalyzer
    try:
        with torch.no_grad():
            analyzer = FlopAnalyzer(module, inputs)
            analyzer.set_op_handle(
                'aten::scaled_dot_product_attention', sdpa_flop_jit)
            analyzer.set_op_handle(**{op: None for op in ELEMENTWISE_OPS})
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            analyzer.tracer_warnings('none')
            total = int(analyzer.total())
            unsupported = dict(analyzer.unsupported_ops())
    except Exception as e:  # a model the jit tracer cannot follow
        return dict(flops=None, unsupported={},
                    error=f'{type(e).__name__}: {e}')
    return dict(flops=total, unsupported=unsupported, error=None)


def stage_flops(model: nn.Module,
                stages: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """Multiply-adds per two-hand image of each stage network.

    Args:
        model: The pipeline (its networks are counted at batch 1 on the
            CPU).
        stages: The stages timed; ``hdr`` counts all three networks.

    Returns:
        dict: stage -> :func:`count_flops` output, for the networks among
        ``stages`` (all with ``hdr``), and ``hdr``: the sum of those
        counted.
    """
    x = BenchInputs(model, None, 1, torch.device('cpu'))
    nets = stage_networks(model)
    plans = dict(hasm=(x.hasm, ), shpe=(x.shpe, ))
    if 'tdr' in nets:
        plans['tdr'] = (x.tdr_x, x.tdr_mask)
    out = {}
    for name, inputs in plans.items():
        if name in stages or 'hdr' in stages:
            out[name] = count_flops(nets[name], inputs)
    counted = [n for n in out if out[n]['flops'] is not None]
    out['hdr'] = dict(
        flops=sum(out[n]['flops'] for n in counted) if counted else None,
        unsupported={}, error=None)
    return out
