"""Where a training run's wall time goes: data loading, train steps,
validation."""
import json
import os.path as osp
import time
from typing import Callable, Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmpose.registry import HOOKS
from hdr_mm.utils.atomic_file import atomic_write


@HOOKS.register_module()
class StageTimingHook(Hook):
    """Accumulate the wall seconds of a training run by kind and write
    them to ``<work_dir>/<out_file>`` when training ends.

    The clock is read at the hook points, so the parts are:

    - ``data_seconds``: from the end of the previous iteration (or the
      start of training, of an epoch, or the end of a validation loop) to
      ``before_train_iter``: fetching the batch (and the per-iteration
      hooks that run before this one);
    - ``step_seconds``: ``before_train_iter`` to ``after_train_iter``: the
      model's ``train_step`` (forward, backward, optimiser step) and the
      per-iteration hooks around it (logging, the checkpoints saved at an
      iteration);
    - ``val_seconds``: the validation loops (``before_val`` to
      ``after_val``);
    - ``seconds``: ``before_train`` to ``after_train``; what the three do
      not cover (e.g. checkpoints saved at the end of an epoch) is
      ``other_seconds``.

    With the lowest priority this hook reads the clock after every other
    hook at each point, so that a checkpoint saved after an iteration
    counts in its step, not in the next batch's loading.

    ``iters`` counts the iterations run by this process (a resumed run
    starts at ``start_iter``). The file is JSON, written atomically on the
    main process; it also holds ``max_iters`` and ``start_iter``.

    Args:
        out_file: File name in the work dir.
        clock: Function returning seconds (for tests); default
            :func:`time.perf_counter`.
    """

    priority = 'LOWEST'

    def __init__(self,
                 out_file: str = 'timing.json',
                 clock: Optional[Callable[[], float]] = None) -> None:
        self.out_file = out_file
        self.clock = clock or time.perf_counter
        self._reset()

    def _reset(self) -> None:
        self.data_seconds = self.step_seconds = self.val_seconds = 0.
        self.iters = 0
        self._start: Optional[float] = None
        self._mark: Optional[float] = None
        self._step_start: Optional[float] = None
        self._val_start: Optional[float] = None
        self._start_iter = 0

    def timing(self) -> Dict[str, float]:
        """What was accumulated so far, as written to the file.

        Returns:
            dict: ``seconds``, ``data_seconds``, ``step_seconds``,
            ``val_seconds``, ``other_seconds``, ``iters``, ``start_iter``.
        """
        total = self.clock() - self._start if self._start is not None \
            else 0.
        parts = self.data_seconds + self.step_seconds + self.val_seconds
        return dict(
            seconds=total,
            data_seconds=self.data_seconds,
            step_seconds=self.step_seconds,
            val_seconds=self.val_seconds,
            other_seconds=max(total - parts, 0.),
            iters=self.iters,
            start_iter=self._start_iter)

    def before_train(self, runner) -> None:
        self._reset()
        self._start = self._mark = self.clock()
        self._start_iter = int(runner.iter)

    def before_train_epoch(self, runner) -> None:
        self._mark = self.clock()

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        now = self.clock()
        if self._mark is not None:
            self.data_seconds += now - self._mark
        self._step_start = now

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        now = self.clock()
        if self._step_start is not None:
            self.step_seconds += now - self._step_start
            self.iters += 1
        self._step_start = None
        self._mark = now

    def before_val(self, runner) -> None:
        self._val_start = self.clock()

    def after_val(self, runner) -> None:
        now = self.clock()
        if self._val_start is not None:
            self.val_seconds += now - self._val_start
        self._val_start = None
        self._mark = now

    def after_train(self, runner) -> None:
        if not is_main_process():
            return
        record = self.timing()
        record['max_iters'] = int(runner.max_iters)
        path = osp.join(runner.work_dir, self.out_file)

        def write(tmp: str) -> None:
            with open(tmp, 'w') as f:
                json.dump(record, f, indent=1)

        atomic_write(path, write, overwrite=True)
