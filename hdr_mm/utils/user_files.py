"""The first checks of every file a user hands over.

Checkpoints (:mod:`.checkpoint_loading`, :mod:`.model_weights`), exported
graphs (:func:`hdr_mm.deploy.stage_runner.check_onnx_file`) and configs
(:func:`read_config`) all start here, so a missing file, a folder in its
place, a file of the wrong kind or a config that does not parse is
refused in the same words wherever it is handed over: the message names
the file and what it was meant to be, never only the reason of the
library underneath (mmengine's ``Config`` reports a syntax error in
``<unknown>``, a ``.pth`` given as a config as "Only py/yml/yaml/json
type are supported now!").
"""
import os.path as osp
from typing import Sequence

from mmengine.config import Config

#: the file types mmengine's ``Config.fromfile`` reads
CONFIG_SUFFIXES = ('.py', '.json', '.yaml', '.yml')


class ConfigFileError(ValueError):
    """A config file cannot be read, or lacks what its reader needs.

    The message names the file, what it was meant to be and the reason.
    """


def require_file(path: str, what: str) -> str:
    """The path of a file a user handed over, or an error naming it.

    Args:
        path: The file (``~`` expanded).
        what: What it is meant to be, e.g. ``'HDR checkpoint'``, for the
            message.

    Returns:
        str: ``path`` with ``~`` expanded.

    Raises:
        FileNotFoundError: nothing is there (``'<what> not found:
            <path>'``).
        IsADirectoryError: it is a folder.
    """
    path = osp.expanduser(path)
    if osp.isdir(path):
        raise IsADirectoryError(f'{what} {path} is a folder; expected a '
                                'file')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


def _one_line(e: BaseException) -> str:
    """An exception as ``Type: first line of its message``."""
    text = str(e).strip().splitlines()
    return f'{type(e).__name__}: {text[0]}' if text else type(e).__name__


def read_config(path: str,
                what: str = 'config',
                needs: Sequence[str] = ('model', )) -> Config:
    """Read a config file a user handed over, or refuse it by name.

    Args:
        path: A ``.py``, ``.json``, ``.yaml`` or ``.yml`` config.
        what: What it is meant to be, e.g. ``'detector config'``, for the
            messages.
        needs: Top-level keys its reader uses (e.g. ``model``).

    Returns:
        Config: the config, with ``filename`` set.

    Raises:
        FileNotFoundError: it does not exist.
        IsADirectoryError: it is a folder.
        ConfigFileError: it is not a config file (another suffix, e.g. a
            checkpoint given in the config's place), it cannot be read (a
            syntax error, a ``_base_`` that is not there, code that
            fails), or it has none of a key in ``needs``.
    """
    path = require_file(path, what)
    if osp.splitext(path)[1].lower() not in CONFIG_SUFFIXES:
        raise ConfigFileError(
            f'{what} {path} is not a config file: expected one of '
            f'{", ".join(CONFIG_SUFFIXES)} (is it a checkpoint or another '
            'file given in the place of the config?)')
    try:
        cfg = Config.fromfile(path)
    except Exception as e:  # SyntaxError, a missing _base_, YAML errors...
        raise ConfigFileError(f'cannot read {what} {path}: '
                              f'{_one_line(e)}') from e
    missing = [k for k in needs if k not in cfg]
    if missing:
        raise ConfigFileError(
            f'{what} {path} has no {", ".join(f"`{k}`" for k in missing)}'
            f' (expected a config that defines '
            f'{", ".join(f"`{k}`" for k in needs)})')
    return cfg
