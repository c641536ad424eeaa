"""Writing a file so that a kill never leaves a partial one behind.

The content goes to a hidden temporary file in the target's folder
(``.<name>.part-<pid>``), is flushed to disk, and is then renamed onto
the target in one step: a reader sees the old file or the new one, never
a truncated one. A process killed while writing leaves only its
``.part`` file, which the next write into that folder removes. A folder
that cannot be written is refused before anything is written, with an
error naming it (:class:`UnwritableFolderError`), and so is a folder in
the place of the file (:func:`check_target`).
"""
import os
import os.path as osp
import re
import tempfile
from typing import Callable

_PART = re.compile(r'^\..+\.part-(\d+)$')


class UnwritableFolderError(OSError):
    """An output folder cannot be created or written into.

    The message names the folder, the file that was to be written there
    (if any) and the system's reason.
    """

    def __str__(self) -> str:  # OSError would prefix an errno
        return str(self.args[0])


def _folder_error(folder: str, e: OSError,
                  path: str = '') -> UnwritableFolderError:
    """The error for ``folder`` after the system refused ``e``."""
    what = f'cannot write {path}: ' if path else ''
    if osp.exists(folder) and not osp.isdir(folder):
        why = 'it exists and is not a folder'
    elif not osp.isdir(folder):
        why = f'it cannot be created ({e.strerror or e})'
    else:
        why = f'it is not writable ({e.strerror or e})'
    return UnwritableFolderError(f'{what}output folder {folder}: {why}')


def ensure_writable_folder(folder: str) -> str:
    """Create ``folder`` if needed and check that files can be written
    there, before any work whose result would be lost.

    The check writes and removes a hidden probe file: permissions alone
    do not tell (root ignores them; read-only mounts and immutable
    folders refuse root too).

    Args:
        folder: The output folder.

    Returns:
        str: ``folder``.

    Raises:
        UnwritableFolderError: it cannot be created, is a file, or is not
            writable (naming it and the reason).
    """
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.write-probe-', dir=folder)
    except OSError as e:
        raise _folder_error(folder, e) from None
    os.close(fd)
    os.remove(probe)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_parts(folder: str) -> None:
    """Delete the ``.part`` files of writers that are no longer running.

    Args:
        folder: Folder to clean.
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _PART.match(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(
                int(m.group(1))):
            try:
                os.remove(osp.join(folder, name))
            except OSError:
                pass


def check_target(path: str) -> str:
    """Refuse a target that no file can replace, before any work.

    Args:
        path: The file to be written.

    Returns:
        str: ``path``.

    Raises:
        IsADirectoryError: a folder of that name is there (naming it).
    """
    if osp.isdir(path):
        raise IsADirectoryError(f'cannot write {path}: a folder of that name '
                                'is there (expected a file name); remove it '
                                'or write elsewhere')
    return path


def atomic_write(path: str,
                 write: Callable[[str], None],
                 overwrite: bool = False) -> None:
    """Write ``path`` through a temporary file and an atomic rename.

    Args:
        path: The file to create.
        write: Called with the temporary file's path; writes the content
            there (e.g. ``lambda tmp: torch.save(obj, tmp)``).
        overwrite: Replace ``path`` if it exists. Without it an existing
            ``path`` is never replaced, not even one that another process
            creates while this one writes.

    Raises:
        IsADirectoryError: ``path`` is a folder (nothing is written).
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        UnwritableFolderError: ``path``'s folder does not exist or is not
            writable (nothing is written; an existing ``path`` is kept).
    """
    check_target(path)
    if not overwrite and osp.lexists(path):
        raise FileExistsError(
            f'{path} exists; pass --overwrite to replace it')
    folder = osp.dirname(osp.abspath(path))
    remove_stale_parts(folder)
    tmp = osp.join(folder, f'.{osp.basename(path)}.part-{os.getpid()}')
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    except OSError as e:
        raise _folder_error(osp.dirname(path) or '.', e, path) from None
    try:
        write(tmp)
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # fails if path appeared meanwhile
        except FileExistsError:
            raise FileExistsError(
                f'{path} was created by another process while this one '
                'wrote it; pass --overwrite to replace it') from None
        except OSError:  # no hard links on this file system
            if osp.lexists(path):
                raise FileExistsError(
                    f'{path} exists; pass --overwrite to replace it')
            os.replace(tmp, path)
    finally:
        if osp.lexists(tmp):
            os.remove(tmp)
