"""Reading images and masks with errors that name the file.

Every reader here raises instead of returning ``None``: a dataset must
never skip a broken sample silently or pick another one. A JPEG or PNG
file that ends before its image does (a copy cut short, a disk that
filled up) is refused too: libjpeg would fill the missing part with grey
and only print a warning without the file name.
"""
from typing import Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.fileio import get

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _jpeg_defect(data: bytes) -> Optional[str]:
    """Why JPEG data ends before its end-of-image marker, or None.

    Walks the marker segments (skipping each by its length) and, after
    each start-of-scan, the entropy-coded data up to the next marker.
    """
    n, pos = len(data), 2
    while True:
        pos = data.find(b'\xff', pos)  # tolerate stray bytes, as libjpeg
        if pos < 0:
            return 'no end-of-image marker'
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            return 'it ends inside a marker'
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return None
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no payload
            continue
        if pos + 2 > n:
            return 'it ends inside a segment header'
        pos += int.from_bytes(data[pos:pos + 2], 'big')
        if pos > n:
            return f'it ends inside a 0xFF{marker:02X} segment'
        if marker != 0xDA:  # not a start of scan
            continue
        while True:  # entropy-coded data: stuffed 0xFF00 and RSTn go on
            pos = data.find(b'\xff', pos)
            if pos < 0 or pos + 1 >= n:
                return 'it ends inside the compressed image data'
            following = data[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                pos += 2
            elif following == 0xFF:
                pos += 1
            else:
                break


def _png_defect(data: bytes) -> Optional[str]:
    """Why PNG data ends before its ``IEND`` chunk, or None."""
    n, pos = len(data), len(_PNG_SIGNATURE)
    while True:
        if pos + 8 > n:
            return 'it ends before the IEND chunk'
        length = int.from_bytes(data[pos:pos + 4], 'big')
        chunk = data[pos + 4:pos + 8]
        pos += 12 + length  # length, type, data, CRC
        if pos > n:
            return (f'it ends inside a {chunk.decode("latin-1")!r} chunk')
        if chunk == b'IEND':
            return None


def check_complete(data: bytes, path: str) -> None:
    """Refuse JPEG or PNG data that ends before the image does.

    Other formats are left to their decoder.

    Args:
        data: The file's bytes.
        path: The file, for the message.

    Raises:
        IOError: the file is truncated, naming it.
    """
    if data[:3] == b'\xff\xd8\xff':
        defect, kind = _jpeg_defect(data), 'JPEG'
    elif data[:8] == _PNG_SIGNATURE:
        defect, kind = _png_defect(data), 'PNG'
    else:
        return
    if defect:
        raise IOError(
            f'image {path} is truncated: {defect} ({kind}, {len(data)} '
            'bytes). A decoder would fill the missing part with grey; '
            're-copy or re-generate the file.')


def decode_image(data: bytes,
                 path: str,
                 flag: str = 'color',
                 backend: Optional[str] = None) -> np.ndarray:
    """Decode a complete image file's bytes.

    Args:
        data: The file's bytes.
        path: The file, for messages.
        flag: mmcv colour flag (``'color'``, ``'grayscale'``,
            ``'unchanged'``...).
        backend: mmcv decoding backend (default cv2).

    Returns:
        np.ndarray: as :func:`mmcv.imfrombytes` returns it (BGR for
        colour images).

    Raises:
        IOError: the file is truncated or cannot be decoded.
    """
    check_complete(data, path)
    try:
        img = mmcv.imfrombytes(data, flag=flag, backend=backend)
    except Exception as e:  # backends raise several types
        raise IOError(f'cannot decode image {path} ({type(e).__name__}: '
                      f'{e})') from e
    if img is None:
        raise IOError(f'cannot decode image {path} (corrupt or not an '
                      'image)')
    return img


def read_image(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a colour image.

    Args:
        path: Image file.
        backend_args: mmengine file backend arguments (local disk when
            None).

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.

    Raises:
        FileNotFoundError: the file does not exist.
        IOError: the file is truncated or cannot be decoded as an image.
    """
    try:
        data = get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'image file not found: {path}') from e
    return decode_image(data, path, 'color')


def read_mask(path: str,
              allowed: Sequence[int] = (0, 1),
              backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a label mask and check its values.

    Args:
        path: PNG file with one channel (a 3-channel file is accepted
            when its channels are equal).
        allowed: The values the mask may hold, e.g. ``(0, 1)`` for binary
            masks or ``(0, 1, 2)`` for ``rl_visible``.
        backend_args: mmengine file backend arguments (local disk when
            None).

    Returns:
        np.ndarray: (H, W) uint8.

    Raises:
        FileNotFoundError: the file does not exist.
        IOError: the file is truncated or cannot be decoded.
        ValueError: wrong channels or values outside ``allowed``.
    """
    try:
        data = get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'mask file not found: {path}') from e
    check_complete(data, path)
    # cv2 keeps 16-bit and palette values as stored (no conversion)
    mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise IOError(f'cannot decode mask {path} (corrupt or not an image)')
    if mask.ndim == 3:
        if not all(np.array_equal(mask[..., 0], mask[..., c])
                   for c in range(1, min(mask.shape[2], 3))):
            raise ValueError(f'mask {path} has {mask.shape[2]} different '
                             'channels; expected a single-channel label map')
        mask = mask[..., 0]
    values = np.unique(mask)
    bad = np.setdiff1d(values, np.asarray(allowed))
    if len(bad):
        raise ValueError(
            f'mask {path} has values {bad.tolist()[:10]} outside '
            f'{list(allowed)}')
    return mask.astype(np.uint8)


def check_same_size(ref: Tuple[str, np.ndarray], *others: Tuple[str,
                                                                np.ndarray]
                    ) -> None:
    """Check that images/masks share the same height and width.

    Args:
        ref: ``(path, array)`` of the reference image.
        *others: More ``(path, array)`` pairs.

    Raises:
        ValueError: naming the first file whose size differs.
    """
    ref_path, ref_arr = ref
    for path, arr in others:
        if arr.shape[:2] != ref_arr.shape[:2]:
            raise ValueError(
                f'{path} has size {arr.shape[1]}x{arr.shape[0]} but '
                f'{ref_path} has size {ref_arr.shape[1]}x{ref_arr.shape[0]}'
                '; they must match')


def check_not_empty(path: str, mask: np.ndarray, what: str = 'mask') -> None:
    """Raise if a mask has no foreground pixel.

    Args:
        path: File (or sample) the mask came from, for the message.
        mask: The mask.
        what: Name of the mask in the message.

    Raises:
        ValueError: the mask is empty.
    """
    if not np.any(mask):
        raise ValueError(f'{what} {path} is empty (no foreground pixel)')
