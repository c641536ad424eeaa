"""Writing a file so that a kill never leaves a partial one behind.

The content goes to a hidden temporary file in the target's folder
(``.<name>.part-<pid>``), is flushed to disk, and is then renamed onto
the target in one step: a reader sees the old file or the new one, never
a truncated one. A process killed while writing leaves only its
``.part`` file, which the next write into that folder removes.
"""
import os
import os.path as osp
import re
from typing import Callable

_PART = re.compile(r'^\..+\.part-(\d+)$')


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
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    if not overwrite and osp.lexists(path):
        raise FileExistsError(
            f'{path} exists; pass --overwrite to replace it')
    folder = osp.dirname(osp.abspath(path))
    remove_stale_parts(folder)
    tmp = osp.join(folder, f'.{osp.basename(path)}.part-{os.getpid()}')
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
