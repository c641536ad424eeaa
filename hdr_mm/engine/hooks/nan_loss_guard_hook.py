"""Stop training as soon as a loss stops being finite."""
import math
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook

from mmpose.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """A logged loss became NaN or infinite during training."""


@HOOKS.register_module()
class NaNLossGuardHook(Hook):
    """Raise :class:`NonFiniteLossError` when a logged loss is NaN/inf.

    It runs after every training iteration with a priority above
    ``CheckpointHook`` (``VERY_LOW``), so the iteration whose loss broke
    never reaches a checkpoint: the last checkpoint on disk is the last
    good one and the error message names it (resume from it with a lower
    learning rate, for instance).

    Args:
        keys: Substrings selecting the log variables to watch; by default
            every variable whose name contains ``'loss'``.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, keys: Sequence[str] = ('loss', )) -> None:
        self.keys = tuple(keys)

    @staticmethod
    def last_checkpoint(work_dir: str) -> Optional[str]:
        """The path in ``work_dir/last_checkpoint`` (mmengine writes it on
        every save), or None when nothing was saved yet."""
        record = osp.join(work_dir, 'last_checkpoint')
        if not osp.isfile(record):
            return None
        with open(record) as f:
            path = f.read().strip()
        return path or None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        bad = {}
        for name, value in outputs.items():
            if not any(k in name for k in self.keys):
                continue
            v = float(value.detach().float().mean()) if isinstance(
                value, torch.Tensor) else float(value)
            if not math.isfinite(v):
                bad[name] = v
        if bad:
            ckpt = self.last_checkpoint(runner.work_dir)
            raise NonFiniteLossError(
                f'non-finite loss at iteration {runner.iter + 1}: '
                f'{bad}. Training stopped before any checkpoint of this '
                'iteration was written; last good checkpoint: '
                f'{ckpt or "none saved yet"}.')
