"""Loading a checkpoint into a model: safely and strictly.

mmengine's ``load_checkpoint`` and its inferencers load non-strictly by
default: a checkpoint of another model leaves every missing weight at
its random initialisation with no more than a logged warning, and the
program goes on with a model that was never trained. Every loader of a
user's weights in hdr_mm goes through this module instead:

- the file is read by
  :func:`~hdr_mm.utils.checkpoint_loading.checkpoint_loading`
  (weights-only, with the allow-list; a full unpickle only on the
  explicit opt-in);
- its tensors must cover the model exactly: missing keys, unexpected
  keys and shape mismatches are refused with a
  :class:`CheckpointMismatchError` that names the file, the model and a
  few keys of each kind.

:func:`load_weights` does both. :func:`check_weights_fit` is the second
half, for loaders that already hold the checkpoint (the inferencers,
:mod:`hdr_mm.apis.strict_inferencer`).
"""
import re
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional, Tuple, Type

import torch
import torch.nn as nn
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)

from .checkpoint_loading import checkpoint_loading
from .user_files import require_file

#: how many keys of each kind an error names
SHOWN_KEYS = 5
#: the prefix a distributed wrapper puts on every key (mmengine's loaders
#: remove it too)
_WRAPPER_PREFIX = re.compile(r'^module\.')


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's tensors do not fit the model they are loaded into.

    The message names the file, the model, and the missing, unexpected
    and wrongly shaped keys (a few of each).
    """


def checkpoint_state_dict(
    checkpoint: Any,
    filename: str,
    what: str = 'checkpoint',
    error: Type[CheckpointMismatchError] = CheckpointMismatchError
) -> 'OrderedDict[str, torch.Tensor]':
    """The tensors of a loaded checkpoint, keyed as the model's.

    Args:
        checkpoint: What the file holds: ``{'state_dict': ...}`` (as
            mmengine writes) or a bare state dict.
        filename: The file, for the message.
        what: What the file is meant to be (e.g. ``'detector
            checkpoint'``), for the message.
        error: The class of the error (a subclass names the caller's
            kind of file, e.g. ``StageCheckpointError``).

    Returns:
        OrderedDict: key -> tensor, ``module.`` prefixes removed.

    Raises:
        CheckpointMismatchError: it holds no mapping of names to tensors.
    """
    sd = checkpoint
    if isinstance(sd, Mapping) and 'state_dict' in sd:
        sd = sd['state_dict']
    if not isinstance(sd, Mapping) or not sd or not all(
            isinstance(v, torch.Tensor) for v in sd.values()):
        raise error(
            f'{what} {filename} holds no state dict of tensors (expected a '
            "mapping of parameter names to tensors, or one under "
            "'state_dict')")
    return OrderedDict((_WRAPPER_PREFIX.sub('', k), v) for k, v in sd.items())


def weights_mismatch(state_dict: Mapping[str, torch.Tensor],
                     shapes: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
    """What differs between a state dict and a model's ``key -> shape``.

    Args:
        state_dict: The checkpoint's tensors.
        shapes: The model's keys and the shapes of their tensors.

    Returns:
        str or None: the counts and a few keys of the missing, unexpected
        and wrongly shaped entries; None when they fit exactly.
    """
    missing = sorted(set(shapes) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(shapes))
    wrong = sorted(k for k in set(state_dict) & set(shapes)
                   if tuple(state_dict[k].shape) != tuple(shapes[k]))
    if not (missing or unexpected or wrong):
        return None
    return (f'{len(missing)} missing key(s) {missing[:SHOWN_KEYS]}, '
            f'{len(unexpected)} unexpected key(s) '
            f'{unexpected[:SHOWN_KEYS]}, {len(wrong)} shape mismatch(es) '
            f'{wrong[:SHOWN_KEYS]}')


def model_shapes(model: nn.Module) -> Dict[str, Tuple[int, ...]]:
    """``key -> shape`` of everything in a model's state dict."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_weights_fit(
        model: nn.Module,
        checkpoint: Any,
        filename: str,
        what: str = 'checkpoint',
        model_name: Optional[str] = None,
        error: Type[CheckpointMismatchError] = CheckpointMismatchError
) -> None:
    """Refuse a loaded checkpoint unless it covers ``model`` exactly.

    Args:
        model: The model the weights are for.
        checkpoint: What the file holds (see :func:`checkpoint_state_dict`).
        filename: The file, for the message.
        what: What the file is meant to be, for the message.
        model_name: The model in the message; default its class name.
        error: The class of the error.

    Raises:
        CheckpointMismatchError: the file holds no state dict, or keys are
            missing or unexpected, or shapes differ.
    """
    sd = checkpoint_state_dict(checkpoint, filename, what, error)
    problem = weights_mismatch(sd, model_shapes(model))
    if problem:
        raise error(
            f'{what} {filename} does not fit '
            f'{model_name or type(model).__name__}: {problem}. Is it the '
            'checkpoint of another model or config?')


def load_weights(
        model: nn.Module,
        filename: str,
        what: str = 'checkpoint',
        model_name: Optional[str] = None,
        unsafe: Optional[bool] = None,
        map_location: Any = 'cpu',
        error: Type[CheckpointMismatchError] = CheckpointMismatchError
) -> dict:
    """Load a checkpoint into ``model``: weights-only and strict.

    Args:
        model: Receives the weights.
        filename: Checkpoint file (or an address mmengine downloads).
        what: What the file is meant to be, for messages.
        model_name: The model in messages; default its class name.
        unsafe: Full unpickle (the explicit opt-in; a crafted file can
            then run arbitrary code); None keeps the mode of an enclosing
            ``checkpoint_loading`` (weights-only when there is none).
        map_location: Passed to :func:`torch.load`.
        error: The class of the mismatch error.

    Returns:
        dict: the checkpoint (its ``meta`` holds e.g. ``dataset_meta``).

    Raises:
        FileNotFoundError: the file does not exist (``'<what> not found:
            <file>'``).
        IsADirectoryError: it is a folder.
        UnsafeCheckpointError: it holds objects that a weights-only load
            refuses.
        RuntimeError: it cannot be read (empty, truncated, not a
            checkpoint).
        CheckpointMismatchError: its tensors do not fit the model.
    """
    if '://' not in filename:  # a local file (not one mmengine downloads)
        filename = require_file(filename, what)
    with checkpoint_loading(unsafe=unsafe):
        checkpoint = _load_checkpoint(filename,
                                      map_location=map_location,
                                      logger='silent')
    check_weights_fit(model, checkpoint, filename, what, model_name, error)
    _load_checkpoint_to_model(model, checkpoint, strict=True)
    return checkpoint
