"""A checkpoint hook that never deletes the last good checkpoint first."""
from collections import deque

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KeepUntilSavedCheckpointHook(CheckpointHook):
    """mmengine's :class:`~mmengine.hooks.CheckpointHook`, deleting an
    outdated checkpoint only after the new one is written.

    With ``max_keep_ckpts`` mmengine removes the oldest checkpoint
    *before* saving the new one: with ``max_keep_ckpts=1`` a kill during
    the save leaves no checkpoint to resume from. Here the old one is kept
    while the new one is written (atomically, by
    :class:`~hdr_mm.engine.runner.HDRRunner`) and removed afterwards. The
    written files and the ``keep_ckpt_ids`` resumed from a checkpoint are
    otherwise mmengine's. ``HDRRunner`` uses this hook in place of
    ``CheckpointHook``.

    Args: as :class:`~mmengine.hooks.CheckpointHook`.
    """

    def before_train(self, runner) -> None:
        """As mmengine; the list of kept checkpoints has room for the one
        being written (mmengine's is capped at ``max_keep_ckpts``)."""
        super().before_train(runner)
        if self.max_keep_ckpts > 0:
            self.keep_ckpt_ids = deque(self.keep_ckpt_ids,
                                       maxlen=self.max_keep_ckpts + 1)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        keep = self.max_keep_ckpts
        if keep <= 0:
            return super()._save_checkpoint_with_step(runner, step, meta)
        self.max_keep_ckpts = keep + 1  # room for the new one
        try:
            super()._save_checkpoint_with_step(runner, step, meta)
        finally:
            self.max_keep_ckpts = keep
        while len(self.keep_ckpt_ids) > keep:
            old = self.keep_ckpt_ids.popleft()
            if is_main_process():
                path = self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(old))
                if self.file_backend.isfile(path):
                    self.file_backend.remove(path)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
