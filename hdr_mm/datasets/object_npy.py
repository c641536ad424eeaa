"""Reading the pickled ``.npy`` files of the AIH_syn layout without
running code from them.

AIH_syn's ``syn_cfgs/*.npy`` hold an object array of dicts, which
``np.load(allow_pickle=True)`` unpickles with Python's full unpickler: a
crafted file could run any code. :func:`load_object_npy` reads the same
files with an unpickler that builds only containers, numbers, strings and
numpy arrays/scalars.
"""
import pickle
from typing import Any

import numpy as np

#: The globals a pickled list of dicts of numbers, strings, lists and
#: numpy arrays/scalars needs (numpy 1.x and 2.x names).
ALLOWED_GLOBALS = frozenset({
    (module, name)
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
    for name in ('_reconstruct', 'scalar')
} | {('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode')})


class _RestrictedUnpickler(pickle.Unpickler):
    """Refuses every global outside :data:`ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f'{module}.{name} is not allowed in a data file')
        return super().find_class(module, name)


def load_object_npy(path: str, what: str = '') -> np.ndarray:
    """Load an ``.npy`` file, unpickling object arrays restrictedly.

    Args:
        path: The file.
        what: Prefix of the file name in messages (e.g. ``'syn_cfgs '``).

    Returns:
        np.ndarray: its array.

    Raises:
        ValueError: the file is not a readable ``.npy`` or its pickle
            names anything but numbers, strings, containers and numpy
            arrays (naming the file).
    """
    try:
        with open(path, 'rb') as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                _, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                _, _, dtype = np.lib.format.read_array_header_2_0(f)
            if not dtype.hasobject:
                f.seek(0)
                return np.load(f, allow_pickle=False)
            array = _RestrictedUnpickler(f, encoding='latin1').load()
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as e:
        raise ValueError(
            f'cannot load {what}{path}: {type(e).__name__}: {e}') from e
    if not isinstance(array, np.ndarray):
        raise ValueError(f'cannot load {what}{path}: it holds a '
                         f'{type(array).__name__}, not an array')
    return array
