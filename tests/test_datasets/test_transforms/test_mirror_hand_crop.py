"""MirrorHandCrop: a left hand's crop as a right hand's."""
import numpy as np
import pytest

from hdr_mm.datasets.transforms import MirrorHandCrop


def _crop(mirrored):
    img = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    return dict(img=img, mirrored=mirrored,
                transformed_keypoints=np.array([[[0., 1.], [2.5, 0.]]]),
                keypoints_cam=np.array([[[10., 20., 300.], [-5., 0., 1.]]]))


def test_mirrors_image_keypoints_and_3d():
    src = _crop(True)
    out = MirrorHandCrop()(dict(src))
    np.testing.assert_array_equal(out['img'], src['img'][:, ::-1])
    assert out['img'].flags['C_CONTIGUOUS']
    # x -> W - 1 - x in the 4 pixels wide crop
    np.testing.assert_array_equal(out['transformed_keypoints'],
                                  [[[3., 1.], [0.5, 0.]]])
    np.testing.assert_array_equal(out['keypoints_3d'],
                                  [[[-10., 20., 300.], [5., 0., 1.]]])
    assert out['keypoints_3d'].dtype == np.float32
    # the ground truth in the image and camera frames stays as it was
    assert out['keypoints_cam'][0, 0, 0] == 10.
    assert src['transformed_keypoints'][0, 1, 0] == 2.5


def test_right_hand_is_kept():
    src = _crop(False)
    out = MirrorHandCrop()(dict(src))
    assert out['img'] is src['img']
    np.testing.assert_array_equal(out['keypoints_3d'], src['keypoints_cam'])
    assert out['keypoints_3d'] is not src['keypoints_cam']


def test_needs_affine():
    with pytest.raises(KeyError, match='transformed_keypoints'):
        MirrorHandCrop()(dict(img=np.zeros((4, 4, 3)), keypoints_cam=0))
