"""Reading images and masks with errors that name the file.

Every reader here raises instead of returning ``None``: a dataset must
never skip a broken sample silently or pick another one.
"""
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.fileio import get


def read_image(path: str) -> np.ndarray:
    """Read a colour image.

    Args:
        path: Image file.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.

    Raises:
        FileNotFoundError: the file does not exist.
        IOError: the file cannot be decoded as an image.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file not found: {path}')
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise IOError(f'cannot decode image {path} (corrupt or not an '
                      'image)')
    return img


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
        IOError: the file cannot be decoded.
        ValueError: wrong channels or values outside ``allowed``.
    """
    try:
        data = get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'mask file not found: {path}') from e
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
