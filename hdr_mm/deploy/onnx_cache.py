"""The folder into which a graph backend exports the stage graphs.

The pipeline's graph backends (onnxruntime, OpenVINO) export its three
networks each time it is set up (the weights may have changed) into a
folder, by default a new temporary one. When the user names the folder
(``onnx_dir``), files may already be there. The backend overwrites only
files that it wrote itself and that are unchanged since: it records the
SHA-256 of each file it writes in ``.hdr_mm_onnx_cache.json`` in that
folder, and says when it replaces one. Any other file of the same name
(an export of the user's, a file that was truncated or corrupted since)
is refused with an error naming it, never silently replaced.
"""
import hashlib
import json
import logging
import os.path as osp
from typing import Dict

from mmengine.logging import print_log

from hdr_mm.utils.atomic_file import atomic_write, ensure_writable_folder

#: the record of the files the backend wrote, in the cache folder
MANIFEST = '.hdr_mm_onnx_cache.json'


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


class OnnxExportCache:
    """A folder the backend exports into, and its record of what it wrote.

    Args:
        folder: The folder; created if missing.
        writer: The backend that writes into it, as messages name it
            (the record is one per folder, whichever backend wrote).

    Raises:
        UnwritableFolderError: ``folder`` cannot be created or written.
    """

    def __init__(self, folder: str, writer: str = 'onnxruntime') -> None:
        self.folder = ensure_writable_folder(folder)
        self.writer = writer
        self.manifest = osp.join(folder, MANIFEST)

    def _records(self) -> Dict[str, str]:
        """File name -> SHA-256 of the files written so far (an unreadable
        record counts as empty: no file is then overwritten)."""
        try:
            with open(self.manifest) as f:
                records = json.load(f)
        except (OSError, ValueError):
            return {}
        return records if isinstance(records, dict) else {}

    def claim(self, name: str) -> str:
        """The path of ``name`` in the folder, to be (re)written.

        Args:
            name: File name, e.g. ``'hasm.onnx'``.

        Returns:
            str: its path.

        Raises:
            FileExistsError: a file of that name is there that the backend
                did not write, or that changed since it wrote it.
        """
        path = osp.join(self.folder, name)
        if not osp.lexists(path):
            return path
        recorded = self._records().get(name)
        if recorded is None:
            raise FileExistsError(
                f'{path} exists and was not written by the {self.writer} '
                f'backend (no record of it in {self.manifest}): the '
                'backend exports the stage networks into onnx_dir itself '
                'and never replaces other files. Move the file away or '
                'choose another onnx_dir (to run a graph of your own, '
                'use hdr_mm.deploy.load_ort_stage or load_ov_stage).')
        if not osp.isfile(path) or file_sha256(path) != recorded:
            raise FileExistsError(
                f'{path} changed since the {self.writer} backend wrote it '
                f'(its SHA-256 differs from the record in {self.manifest}): '
                'it was truncated, corrupted or replaced, and the backend '
                'does not overwrite it. Remove it or choose another '
                'onnx_dir.')
        print_log(
            f'replacing {path}: the {self.writer} backend wrote it before '
            'and exports the networks again',
            logger='current',
            level=logging.INFO)
        return path

    def record(self, path: str) -> None:
        """Note a file the backend has just written (atomically).

        Args:
            path: A path returned by :meth:`claim`, now written.
        """
        records = self._records()
        records[osp.basename(path)] = file_sha256(path)

        def write(tmp: str) -> None:
            with open(tmp, 'w') as f:
                json.dump(records, f, indent=1, sort_keys=True)

        atomic_write(self.manifest, write, overwrite=True)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.folder!r}, {self.writer!r})'
