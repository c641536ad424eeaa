"""Annotation files that cannot be read are errors naming the file.

mmpose reads InterHand2.6M's json through xtcocotools and ``json.load``;
a truncated file surfaces as a bare ``JSONDecodeError`` ("Expecting ','
delimiter: line 1 column 40961") that names none of the three files.
"""
import contextlib
import json
import os.path as osp
from typing import Iterator, Optional, Sequence


class AnnotationFileError(ValueError):
    """An annotation file is not valid json."""


def _json_error(path: str) -> Optional[str]:
    """Why ``path`` is not valid json, or None."""
    try:
        with open(path, 'rb') as f:
            json.loads(f.read().decode('utf-8'))
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        return f'{type(e).__name__}: {e}'
    return None


@contextlib.contextmanager
def naming_invalid_json(paths: Sequence[Optional[str]]) -> Iterator[None]:
    """Turn a json error raised inside the context into one that names
    the file.

    Nothing is parsed unless an error occurs; then each of ``paths`` is
    parsed again to find the broken one.

    Args:
        paths: The json files read inside the context.

    Raises:
        AnnotationFileError: naming the first file that does not parse,
            with the parser's message.
    """
    try:
        yield
    except ValueError as e:
        if not isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)):
            raise
        for path in paths:
            if not path or not osp.isfile(path):
                continue
            reason = _json_error(path)
            if reason:
                raise AnnotationFileError(
                    f'annotation file {path} is not valid json ({reason}); '
                    'is it complete?') from e
        raise
