"""Loading checkpoints without running code from them.

Unpickling a ``.pth`` file can run any code the file names (a crafted
``__reduce__`` calls ``os.system``), which is why torch >= 2.6 loads with
``weights_only=True``: only tensors, containers and an allow-list of
globals. The checkpoints that mmengine 0.10.7 writes hold a few more
objects (in ``meta``, ``message_hub`` and the optimizer/scheduler
states), so torch refuses them by default. Those objects are listed in
:data:`SAFE_CHECKPOINT_GLOBALS`: they were found by saving checkpoints
with the Runner for each stage config and asking
:func:`torch.serialization.get_unsafe_globals_in_checkpoint`, and none of
them runs code when it is rebuilt.

:func:`checkpoint_loading` is a context: inside it, mmengine's loader for
local files (used by ``load_checkpoint``, ``Runner.load_checkpoint``,
``Runner.resume`` and the inferencers) reads with ``weights_only=True``
and exactly these globals allowed; a file that needs anything else is
refused with an error naming the file, the globals and the opt-in.
``unsafe=True`` (the tools' ``--unsafe-load``, the APIs'
``unsafe_load=True``) is the explicit opt-in to a full unpickle, for
checkpoints of a trusted origin written by other programs. Checkpoints
that mmengine downloads (``http(s)://``, ``open-mmlab://``,
``torchvision://``, ...; torch.hub would unpickle them fully) are read
the same way from torch.hub's cache.

The environment cannot turn this off: the weights-only load passes
``weights_only=True`` explicitly, and torch (checked up to 2.13) lets
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` change only calls that pass no
``weights_only``. Should a torch apply it anyway, a probe notices and
every load is refused (:func:`check_weights_only_is_kept`).

A file that is not a checkpoint at all (empty, random bytes, a numpy or
plain pickle file) is refused as unreadable, without the opt-in being
suggested; a missing file or a folder is refused by
:func:`~hdr_mm.utils.user_files.require_file`, as every file a user hands
over is.

Nothing happens at import: outside the context ``torch.load`` and
mmengine's ``CheckpointLoader`` behave as their authors made them.
"""
import contextlib
import fractions
import functools
import io
import os
import os.path as osp
import pickle
import threading
from typing import Any, Callable, Iterator, List, Optional
from urllib.parse import urlparse

import mmengine.runner.checkpoint as mmengine_checkpoint
import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .user_files import require_file

#: The tools' option and the APIs' argument that allow a full unpickle.
UNSAFE_FLAG = '--unsafe-load'
UNSAFE_ARG = 'unsafe_load=True'
UNSAFE_HELP = (
    'read checkpoints with a full unpickle (torch.load(weights_only=False))'
    ' instead of the default weights-only load. DANGEROUS: a checkpoint '
    'can then run arbitrary code on this machine; use it only for a file '
    'of a trusted origin that the weights-only load refuses. Checkpoints '
    "that hdr_mm's configs write load without it.")

#: The statistics methods a ``HistoryBuffer`` has by default (and so
#: pickles by name).
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def history_buffer_method(owner: Any, name: str) -> Callable:
    """What ``builtins.getattr`` may do while a checkpoint is unpickled.

    A ``HistoryBuffer`` of the message hub pickles its statistics methods
    as ``getattr(HistoryBuffer, 'mean')``. A free ``getattr`` would hand a
    crafted file any object reachable from the allowed ones (e.g. the
    ``builtins`` module, whose functions ``HistoryBuffer.__setstate__``
    would install as statistics methods), so only these lookups are
    allowed.

    Args:
        owner: Must be ``HistoryBuffer``.
        name: One of :data:`HISTORY_BUFFER_METHODS`.

    Returns:
        The method.

    Raises:
        pickle.UnpicklingError: anything else.
    """
    if owner is not HistoryBuffer or name not in HISTORY_BUFFER_METHODS:
        raise pickle.UnpicklingError(
            f'getattr({owner!r:.60}, {name!r:.60}) is not allowed in a '
            'checkpoint (only the HistoryBuffer statistics methods '
            f'{HISTORY_BUFFER_METHODS} are)')
    return getattr(HistoryBuffer, name)


#: Every global that the checkpoints of the hdr_mm stage configs hold
#: besides what torch allows by default (found with ``torch.serialization.
#: get_unsafe_globals_in_checkpoint`` on checkpoints the Runner wrote for
#: each small stage config, and on one with mmpose's InterHand3D meta):
#: numpy arrays and scalars (dataset meta, message-hub values) with the
#: classes of their dtypes (a dtype is rebuilt with BUILD; float32,
#: float64, int64 and uint8 occur), ``bytes`` (the data of an empty
#: array), the message hub's ``HistoryBuffer`` and ``getattr`` restricted
#: to the lookups a ``HistoryBuffer`` pickles
#: (:func:`history_buffer_method`).
SAFE_CHECKPOINT_GLOBALS: List[Any] = [
    np.core.multiarray._reconstruct,
    np.core.multiarray.scalar,
    np.ndarray,
    np.dtype,
    *(type(np.dtype(code)) for code in ('float32', 'float64', 'int64',
                                        'uint8')),
    bytes,
    HistoryBuffer,
    (history_buffer_method, 'builtins.getattr'),
]


def _global_name(obj: Any) -> str:
    """The ``module.name`` under which an allow-list entry is found."""
    if isinstance(obj, tuple):
        return obj[1]
    return f'{obj.__module__}.{obj.__qualname__}'


_state = threading.local()
_scheme_lock = threading.Lock()
_scheme_users = 0
_saved_loader: Optional[Callable] = None
_saved_url_loader: Optional[Callable] = None

#: torch's environment switches of the weights-only default
FORCE_UNSAFE_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
FORCE_SAFE_ENV = 'TORCH_FORCE_WEIGHTS_ONLY_LOAD'
#: how a file that ``torch.save`` wrote starts: a zip archive (torch >=
#: 1.6), or the legacy format's pickled magic number
TORCH_FILE_HEADS = (b'PK\x03\x04',
                    pickle.dumps(torch.serialization.MAGIC_NUMBER, 2)[:-1])
#: the words of torch's weights-only unpickler when it refuses to build an
#: object (any other refusal is a file it cannot parse)
OBJECT_REFUSALS = ('GLOBAL', 'reduce', 'new object', 'Can only build',
                   'must be imported')


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds objects that a weights-only load refuses."""


def _not_a_torch_file(filename: str) -> Optional[str]:
    """Why a file cannot be anything ``torch.save`` wrote, or None.

    Args:
        filename: An existing file.

    Returns:
        str or None: ``'it is empty'`` or ``'it is not a PyTorch
        checkpoint ...'``; None when it starts as torch's files do.
    """
    with open(filename, 'rb') as f:
        head = f.read(max(len(h) for h in TORCH_FILE_HEADS))
    if not head:
        return 'it is empty'
    if any(head.startswith(h) for h in TORCH_FILE_HEADS):
        return None
    return ('it is not a PyTorch checkpoint (neither the zip archive that '
            "torch.save writes nor torch's legacy format)")


def _env_set(name: str) -> bool:
    """Whether torch reads the switch ``name`` as on."""
    return os.getenv(name, '0').lower() in ('1', 'y', 'yes', 'true')


@functools.lru_cache(maxsize=None)
def _weights_only_is_kept(torch_load: Callable) -> bool:
    """Whether ``torch_load(..., weights_only=True)`` still refuses a
    global outside torch's allow-list (a harmless ``Fraction``)."""
    buf = io.BytesIO()
    torch.save(fractions.Fraction(1, 2), buf)
    buf.seek(0)
    try:
        torch_load(buf, weights_only=True)
    except pickle.UnpicklingError:
        return True
    return False


def check_weights_only_is_kept() -> None:
    """Refuse to load when the environment asks for full unpickling and
    this torch would apply that to an explicit ``weights_only=True``.

    Raises:
        UnsafeCheckpointError: ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set
            and a probe load with ``weights_only=True`` unpickled a global
            that a weights-only load refuses.
    """
    if _env_set(FORCE_UNSAFE_ENV) and not _weights_only_is_kept(torch.load):
        raise UnsafeCheckpointError(
            f'refused to load checkpoints: {FORCE_UNSAFE_ENV}='
            f'{os.getenv(FORCE_UNSAFE_ENV)} is set and this torch '
            f'{torch.__version__} then unpickles fully even when '
            'weights_only=True is asked, so a checkpoint could run '
            f'arbitrary code. Unset {FORCE_UNSAFE_ENV}; for a file from a '
            f'source you trust pass {UNSAFE_FLAG} to the tool or '
            f'{UNSAFE_ARG} to the API.')


def _unsafe_mode() -> bool:
    """Whether the innermost :func:`checkpoint_loading` allows a full
    unpickle (False outside any)."""
    stack = getattr(_state, 'stack', None)
    return bool(stack and stack[-1])


def _refused_globals(filename: str) -> List[str]:
    """Globals of a checkpoint outside torch's and hdr_mm's allow-lists
    (read from the pickle opcodes, nothing is executed)."""
    allowed = {_global_name(g) for g in SAFE_CHECKPOINT_GLOBALS}
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(
            filename)
    except Exception:  # not a zip checkpoint: the caller's error stands
        return []
    return [g for g in found if g not in allowed]


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None,
                          unsafe: bool = False) -> Any:
    """Read a local checkpoint file, by default without running code.

    Args:
        filename: Path (``~`` expanded).
        map_location: Passed to :func:`torch.load`.
        unsafe: Full unpickle (``weights_only=False``). Only for trusted
            files: a crafted file runs arbitrary code.

    Returns:
        The object stored in the file.

    Raises:
        FileNotFoundError: the file does not exist.
        IsADirectoryError: it is a folder.
        UnsafeCheckpointError: it holds objects outside the allow-list, or
            torch's weights-only reader cannot parse it (naming the file,
            the objects or the reason, and the opt-in).
        RuntimeError: it cannot be read (empty, truncated, not a
            checkpoint), naming the file.
    """
    filename = require_file(filename, 'checkpoint')
    if not unsafe:
        check_weights_only_is_kept()
    try:
        if unsafe:
            return torch.load(
                filename, map_location=map_location, weights_only=False)
        marked = set(torch.serialization.get_safe_globals())
        extra = [g for g in SAFE_CHECKPOINT_GLOBALS if g not in marked]
        with torch.serialization.safe_globals(extra):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except Exception as e:
        weights_only_refused = 'Weights only load failed' in str(e)
        if unsafe and weights_only_refused and _env_set(FORCE_SAFE_ENV):
            raise UnsafeCheckpointError(
                f'cannot load checkpoint {filename} with {UNSAFE_FLAG}: '
                f'{FORCE_SAFE_ENV}={os.getenv(FORCE_SAFE_ENV)} is set, so '
                'torch loads weights-only whatever is asked, and the file '
                f'holds objects that this refuses ({_weights_only_reason(e)}'
                f'). Unset {FORCE_SAFE_ENV} to load this trusted '
                'file.') from None
        not_torch = _not_a_torch_file(filename)
        if not_torch:
            raise RuntimeError(f'cannot read checkpoint {filename}: '
                               f'{not_torch}; is it the right file?') from None
        reason = _weights_only_reason(e)
        if unsafe or not weights_only_refused:
            said = f'{type(e).__name__}: {reason}' if reason else \
                type(e).__name__
            raise RuntimeError(f'cannot read checkpoint {filename} ({said}); '
                               'is the file complete?') from None
        refused = _refused_globals(filename)
        if refused or any(w in reason for w in OBJECT_REFUSALS):
            what = (f'it holds {refused}, which a weights-only load does '
                    'not allow' if refused else
                    'it holds objects that a weights-only load does not '
                    f'allow ({reason})')
            what += ' (unpickling them could run arbitrary code)'
        else:
            what = (f"torch's weights-only reader cannot parse it ({reason})"
                    ': it is corrupt, or was written with pickle features '
                    'that only a full unpickle reads')
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {filename}: {what}. If the file '
            f'comes from a source you trust, pass {UNSAFE_FLAG} to the tool '
            f'or {UNSAFE_ARG} to the API.') from None


def _weights_only_reason(e: Exception) -> str:
    """The unpickler's own reason inside torch's long message.

    Args:
        e: What ``torch.load`` raised.

    Returns:
        str: one line, e.g. ``'Unsupported operand 149'`` (at most 300
        characters; empty when the error says nothing).
    """
    text = str(e)
    for marker in ('WeightsUnpickler error:', 'from a trusted source.'):
        if marker in text:
            text = text.split(marker, 1)[1]
            break
    text = text.split('Check the documentation')[0]
    return ' '.join(text.split())[:300]


def _scoped_loader(filename: str,
                   map_location: Optional[Any] = None) -> Any:
    """mmengine's local-file loader while a context is active."""
    return load_local_checkpoint(filename, map_location, _unsafe_mode())


def _scoped_url_loader(url: str,
                       model_dir: Optional[str] = None,
                       map_location: Optional[Any] = None,
                       progress: bool = True,
                       **kwargs) -> Any:
    """mmengine's ``load_url`` while a context is active.

    mmengine reads ``http(s)://`` checkpoints, and those of the
    ``open-mmlab://``, ``torchvision://``, ``modelzoo://`` and
    ``mmcls://`` names, with ``torch.hub.load_state_dict_from_url``,
    which unpickles fully (``weights_only=False``). Here the file is
    downloaded to the same cache (``<torch hub dir>/checkpoints``) and
    read by :func:`load_local_checkpoint`.

    Args:
        url: The checkpoint's address.
        model_dir: Cache folder; default torch.hub's.
        map_location: Passed to :func:`torch.load`.
        progress: Show the download's progress.
        **kwargs: Other ``load_url`` arguments (ignored).

    Returns:
        The object stored in the file.
    """
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        torch.hub.download_url_to_file(url, cached, progress=progress)
    return load_local_checkpoint(cached, map_location, _unsafe_mode())


@contextlib.contextmanager
def checkpoint_loading(unsafe: Optional[bool] = None) -> Iterator[None]:
    """Route mmengine's checkpoint loading (local files and downloads)
    through :func:`load_local_checkpoint` while the context is open.

    Contexts nest: the innermost one decides. Leaving the outermost one
    gives mmengine back its own loader.

    Args:
        unsafe: True allows a full unpickle (the explicit opt-in), False
            forbids it, None keeps the mode of the enclosing context
            (weights-only when there is none).

    Yields:
        None
    """
    global _scheme_users, _saved_loader, _saved_url_loader
    stack = getattr(_state, 'stack', None)
    if stack is None:
        stack = _state.stack = []
    stack.append(_unsafe_mode() if unsafe is None else bool(unsafe))
    with _scheme_lock:
        if _scheme_users == 0:
            _saved_loader = CheckpointLoader._schemes.get('')
            CheckpointLoader.register_scheme('', _scoped_loader, force=True)
            _saved_url_loader = mmengine_checkpoint.load_url
            mmengine_checkpoint.load_url = _scoped_url_loader
        _scheme_users += 1
    try:
        yield
    finally:
        stack.pop()
        with _scheme_lock:
            _scheme_users -= 1
            if _scheme_users == 0:
                if _saved_loader is None:
                    CheckpointLoader._schemes.pop('', None)
                else:
                    CheckpointLoader.register_scheme(
                        '', _saved_loader, force=True)
                mmengine_checkpoint.load_url = _saved_url_loader
                _saved_loader = _saved_url_loader = None
