"""Truncated image files are refused with an error naming the file."""
import cv2
import numpy as np
import pytest

from hdr_mm.datasets.image_io import (check_complete, read_image,
                                      read_mask)


def _frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(
        rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), (5, 5), 0)
    return img


def _encode(ext: str, img: np.ndarray, params=()) -> bytes:
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize('params', [
    (), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1), (cv2.IMWRITE_JPEG_RST_INTERVAL, 2)
], ids=['baseline', 'progressive', 'restart-markers'])
def test_complete_jpeg_passes_and_truncated_is_refused(tmp_path, params):
    data = _encode('.jpg', _frame(), params)
    check_complete(data, 'x.jpg')
    check_complete(data + b'\x00' * 7, 'x.jpg')  # padding after EOI: as
    # libjpeg, accepted
    for cut in (len(data) // 2, len(data) - 2, 300, 4):
        path = tmp_path / f'cut{cut}.jpg'
        path.write_bytes(data[:cut])
        with pytest.raises(IOError, match=f'cut{cut}.jpg is truncated'):
            read_image(str(path))


def test_truncated_jpeg_would_decode_silently_as_grey(tmp_path):
    """What the check prevents: cv2.imread (what read_image used) decodes
    half a JPEG without an error, the missing rows grey."""
    data = _encode('.jpg', _frame())
    path = tmp_path / 'half.jpg'
    path.write_bytes(data[:len(data) // 2])
    half = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert half is not None and half.shape == (96, 128, 3)
    assert (half[-10:] == 128).all()
    with pytest.raises(IOError, match='half.jpg is truncated'):
        read_image(str(path))


def test_truncated_png_is_refused(tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[10:40, 5:50] = 1
    data = _encode('.png', mask)
    path = tmp_path / 'mask.png'
    path.write_bytes(data)
    assert read_mask(str(path)).sum() == mask.sum()
    path.write_bytes(data[:len(data) - 5])
    with pytest.raises(IOError, match=r'mask.png is truncated.*IEND'):
        read_mask(str(path))
    path.write_bytes(_encode('.png', _frame())[:200])
    with pytest.raises(IOError, match='mask.png is truncated'):
        read_image(str(path))


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.jpg'):
        read_image(str(tmp_path / 'absent.jpg'))
    (tmp_path / 'text.jpg').write_text('not an image')
    with pytest.raises(IOError, match='cannot decode image .*text.jpg'):
        read_image(str(tmp_path / 'text.jpg'))
