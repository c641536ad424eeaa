"""hdr_mm's Runner: safe checkpoint loading and atomic checkpoint saving.

mmengine 0.10.7's Runner writes a checkpoint in place, so a process
killed while saving leaves a truncated ``iter_N.pth`` that a later
``--resume`` chokes on, and it reads checkpoints with whatever loader is
registered in mmengine. :class:`HDRRunner` changes exactly these two
things; :func:`~hdr_mm.engine.runner_setup.build_runner` (used by
``tools/train.py`` and ``tools/test.py``, and so by ``mim``) builds it for
every config that does not name its own ``runner_type``.
"""
import os.path as osp
from typing import Any, Callable, Optional, Union

from mmengine.dist import master_only
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from torch import nn

import hdr_mm.engine.hooks  # noqa: F401  (registers the hooks)
from hdr_mm.utils.atomic_file import atomic_write
from hdr_mm.utils.checkpoint_loading import checkpoint_loading


@RUNNERS.register_module()
class HDRRunner(Runner):
    """An mmengine :class:`~mmengine.runner.Runner` that

    - loads checkpoints (``load_from``, ``resume``, pretrained weights
      read while training, validating or testing) inside
      :func:`~hdr_mm.utils.checkpoint_loading.checkpoint_loading`: a
      weights-only load with an allow-list of what mmengine checkpoints
      hold, unless an enclosing ``checkpoint_loading(unsafe=True)`` (the
      tools' ``--unsafe-load``) opted in to a full unpickle;
    - saves checkpoints to a local folder atomically
      (:func:`~hdr_mm.utils.atomic_file.atomic_write`), so a kill never
      leaves a truncated checkpoint;
    - uses :class:`~hdr_mm.engine.hooks.KeepUntilSavedCheckpointHook` for
      mmengine's ``CheckpointHook`` (an outdated checkpoint is deleted
      only once the new one is written).

    Arguments are those of :class:`~mmengine.runner.Runner`.
    """

    def __init__(self, *args, default_hooks: Optional[dict] = None,
                 **kwargs) -> None:
        ckpt = (default_hooks or {}).get('checkpoint')
        if isinstance(ckpt, dict) and ckpt.get('type') in (
                'CheckpointHook', 'mmengine.CheckpointHook'):
            default_hooks = dict(default_hooks)
            default_hooks['checkpoint'] = dict(
                ckpt, type='KeepUntilSavedCheckpointHook')
        super().__init__(*args, default_hooks=default_hooks, **kwargs)

    def train(self) -> nn.Module:
        """Train as the Runner does, loading checkpoints safely."""
        with checkpoint_loading():
            return super().train()

    def val(self) -> dict:
        """Validate as the Runner does, loading checkpoints safely."""
        with checkpoint_loading():
            return super().val()

    def test(self) -> dict:
        """Test as the Runner does, loading checkpoints safely."""
        with checkpoint_loading():
            return super().test()

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> Any:
        """:meth:`Runner.load_checkpoint` inside
        :func:`~hdr_mm.utils.checkpoint_loading.checkpoint_loading` (also
        used by :meth:`Runner.resume`).

        Args:
            filename: Checkpoint file.
            map_location: Where to put the tensors.
            strict: Refuse missing or unexpected keys.
            revise_keys: ``(pattern, replacement)`` pairs for the keys.

        Returns:
            dict: The loaded checkpoint.
        """
        with checkpoint_loading():
            return super().load_checkpoint(filename, map_location, strict,
                                           revise_keys)

    @master_only
    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """:meth:`Runner.save_checkpoint`, written to a temporary file in
        ``out_dir`` and renamed onto ``filename`` (replacing it, as
        mmengine does). Remote backends are left to mmengine.

        Args:
            out_dir: Folder of the checkpoint.
            filename: Its file name.
            file_client_args: Deprecated mmengine file client arguments.
            save_optimizer: Save the optimizer state.
            save_param_scheduler: Save the parameter schedulers' state.
            meta: Extra meta information.
            by_epoch: Whether ``epoch`` or ``iter`` counts the steps.
            backend_args: mmengine file backend arguments.
        """
        kwargs = dict(save_optimizer=save_optimizer,
                      save_param_scheduler=save_param_scheduler, meta=meta,
                      by_epoch=by_epoch)
        if (file_client_args is not None or backend_args is not None
                or '://' in str(out_dir)):
            return super().save_checkpoint(out_dir, filename,
                                           file_client_args,
                                           backend_args=backend_args,
                                           **kwargs)
        parent = super(HDRRunner, self)
        atomic_write(
            osp.join(out_dir, filename),
            lambda tmp: parent.save_checkpoint(
                osp.dirname(tmp), osp.basename(tmp), **kwargs),
            overwrite=True)
