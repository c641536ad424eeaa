"""Let mmengine 0.10.7 read its own checkpoints under torch >= 2.6.

torch 2.6 changed the default of ``torch.load`` to ``weights_only=True``.
mmengine 0.10.7 calls ``torch.load`` without the argument, and its
checkpoints hold non-tensor objects (the message hub, the config, numpy
values), so resuming and ``load_from`` fail with an ``UnpicklingError``.
This module registers a local-file loader for mmengine's
``CheckpointLoader`` that passes ``weights_only=False`` -- what mmengine
was written against -- and names the file in the error when it cannot be
read (e.g. a truncated checkpoint). Only mmengine's checkpoint loading is
affected; other ``torch.load`` calls keep torch's default.
"""
import os.path as osp
from typing import Any, Callable, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None,
                          logger: Any = None) -> Any:
    """Read a local checkpoint file with a full unpickle.

    Args:
        filename: Path (``~`` expanded).
        map_location: Passed to :func:`torch.load`.
        logger: Unused, part of mmengine's loader signature.

    Returns:
        The object stored in the file.

    Raises:
        FileNotFoundError: the file does not exist.
        RuntimeError: it exists but cannot be read (truncated, not a
            checkpoint), naming the file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    except Exception as e:
        raise RuntimeError(
            f'cannot read checkpoint {filename} '
            f'({type(e).__name__}: {e}); is the file complete?') from e


def register_checkpoint_loader(
        loader: Callable = load_local_checkpoint) -> None:
    """Make ``loader`` mmengine's loader for local paths (no prefix)."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(loader)
