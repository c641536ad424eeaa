"""Reading the authors' checkpoint files for the model converters.

The authors' files wrap a state dict as ``{'step', 'state_dict',
'optimizer'}`` (or hold the bare state dict), and weights saved from a
distributed wrapper prefix every key with ``module.``. mmengine's
``CheckpointLoader`` reads files but does not know this wrapping, so the
unwrapping lives here, shared by every converter in
``tools/model_converters``.
"""
from collections import OrderedDict
from typing import Dict, Iterable, Mapping, Optional, Tuple

import torch

from .atomic_file import atomic_write
from .checkpoint_loading import UnsafeCheckpointError, load_local_checkpoint
from .model_weights import CheckpointMismatchError, checkpoint_state_dict


class CheckpointKeyError(KeyError):
    """A checkpoint's keys do not match what a model or converter expects.

    The message lists the missing and the unexpected keys.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def load_reference_state_dict(path: str,
                              map_location: str = 'cpu',
                              unsafe_load: bool = False
                              ) -> 'OrderedDict[str, torch.Tensor]':
    """Load a state dict from one of the authors' checkpoint files.

    Args:
        path: The ``.pth``/``.pt`` file.
        map_location: Passed to :func:`torch.load`.
        unsafe_load: Full unpickle instead of the weights-only load
            (:func:`~hdr_mm.utils.checkpoint_loading.load_local_checkpoint`):
            a crafted file can then run arbitrary code; only for trusted
            files that the weights-only load refuses.

    Returns:
        OrderedDict: parameter name -> tensor, with any ``state_dict``
        wrapping and ``module.`` prefixes removed.

    Raises:
        FileNotFoundError: the file does not exist (``'checkpoint not
            found: <path>'``).
        IsADirectoryError: it is a folder.
        UnsafeCheckpointError: the file holds objects that a weights-only
            load refuses (and ``unsafe_load`` is False).
        ValueError: the file cannot be unpickled (truncated or not a
            checkpoint) or holds no tensor state dict.
    """
    try:
        obj = load_local_checkpoint(path, map_location, unsafe=unsafe_load)
    except UnsafeCheckpointError:
        raise
    except RuntimeError as e:  # unreadable: the message names the file
        raise ValueError(str(e)) from e.__cause__
    try:
        return checkpoint_state_dict(obj, path)
    except CheckpointMismatchError as e:
        raise ValueError(str(e)) from None


def check_keys(found: Iterable[str],
               expected: Iterable[str],
               what: str,
               ignore: Optional[Iterable[str]] = None) -> None:
    """Raise :class:`CheckpointKeyError` unless two key sets are equal.

    Args:
        found: Keys present (e.g. in a checkpoint).
        expected: Keys wanted (e.g. by a model or a key map).
        what: Name of the checkpoint or model, used in the message.
        ignore: Keys to leave out of the comparison on both sides.
    """
    ignore = set(ignore or ())
    found, expected = set(found) - ignore, set(expected) - ignore
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if missing or unexpected:
        raise CheckpointKeyError(
            f'{what}: {len(missing)} missing key(s) {missing[:10]}'
            f'{"..." if len(missing) > 10 else ""}, {len(unexpected)} '
            f'unexpected key(s) {unexpected[:10]}'
            f'{"..." if len(unexpected) > 10 else ""}')


def convert_state_dict(
    src: Mapping[str, torch.Tensor],
    key_map: Mapping[str, str],
    what: str,
) -> 'OrderedDict[str, torch.Tensor]':
    """Rename every key of ``src`` through ``key_map``, checking coverage.

    Args:
        src: The authors' state dict.
        key_map: Their key -> our key, for every key of ``src``.
        what: Name used in error messages.

    Returns:
        OrderedDict: our key -> tensor.

    Raises:
        CheckpointKeyError: ``src`` and ``key_map`` do not cover the same
            keys.
    """
    check_keys(src.keys(), key_map.keys(), what)
    return OrderedDict((key_map[k], v) for k, v in src.items())


def save_mmengine_checkpoint(state_dict: Mapping[str, torch.Tensor],
                             path: str,
                             meta: Optional[Dict] = None,
                             overwrite: bool = False) -> None:
    """Save a state dict as an mmengine checkpoint (``{'meta',
    'state_dict'}``), refusing to replace an existing file unless asked.

    The file is written atomically (:func:`~hdr_mm.utils.atomic_file.
    atomic_write`): a kill never leaves a truncated checkpoint.

    Args:
        state_dict: Parameters to save.
        path: Output file.
        meta: Saved under ``meta``.
        overwrite: Replace ``path`` if it exists.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    ckpt = dict(meta=meta or {}, state_dict=OrderedDict(state_dict))
    atomic_write(path, lambda tmp: torch.save(ckpt, tmp), overwrite)


def shapes(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, Tuple]:
    """Key -> shape tuple, for comparing with the reference manifest."""
    return {k: tuple(v.shape) for k, v in state_dict.items()}
