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


def _rotated_sample(rot_deg, root, mirrored=False):
    """A hand projected by a pinhole (f 300, principal point (128, 128)),
    its crop centred on the wrist's projection, rotated by ``rot_deg``."""
    from mmpose.datasets.transforms import TopdownAffine
    rng = np.random.default_rng(0)
    rel = rng.uniform(-60, 60, (1, 21, 3)).astype(np.float32)
    rel[0, 0] = 0
    cam = rel + np.asarray(root, np.float32)
    uv = 300 * cam[..., :2] / cam[..., 2:] + 128
    results = dict(
        img=np.zeros((256, 256, 3), np.uint8), keypoints=uv,
        keypoints_cam=rel, root_cam=np.asarray([root], np.float32),
        bbox_center=uv[:, 0].copy(), bbox_scale=np.array([[120., 120.]]),
        bbox_rotation=np.array([rot_deg]), mirrored=mirrored)
    return TopdownAffine(input_size=(64, 64))(results)


@pytest.mark.parametrize('mirrored', [False, True])
def test_rotation_turns_3d_with_pixels(mirrored):
    # wrist on the optical axis: turning about its ray turns the projection
    # of every joint about the crop centre by exactly the crop's rotation,
    # so the crop-frame 3D joints project onto the crop's 2D joints
    out = MirrorHandCrop()(_rotated_sample(35.0, (0, 0, 500), mirrored))
    # (mirrored: both the 3D x and the crop's x are mirrored, so the
    # projection still holds in the mirrored crop, about x -> 63 - x)
    k3d = out['keypoints_3d'][0] + np.array([0, 0, 500], np.float32)
    focal = 300 * 64 / 120  # crop pixels per image pixel
    uv = focal * k3d[:, :2] / k3d[:, 2:] + 32  # mmpose: centre -> W / 2
    if mirrored:  # mirror_x maps the centre 32 to 63 - 32 = 31
        uv[:, 0] -= 1
    np.testing.assert_allclose(uv, out['transformed_keypoints'][0],
                               atol=1e-3)
    # a rotation of 35 degrees moves the joints: the test is not vacuous
    assert np.abs(out['keypoints_3d'] - out['keypoints_cam']).max() > 5


def test_rotation_off_axis_keeps_wrist_and_bones():
    out = MirrorHandCrop()(_rotated_sample(-50.0, (80, -40, 450)))
    k3d, rel = out['keypoints_3d'][0], out['keypoints_cam'][0]
    np.testing.assert_allclose(k3d[0], 0, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(k3d, axis=-1),
                               np.linalg.norm(rel, axis=-1), rtol=1e-5)
    # the component along the wrist's ray is unchanged
    ray = np.array([80, -40, 450]) / np.linalg.norm([80, -40, 450])
    np.testing.assert_allclose(k3d @ ray, rel @ ray, atol=1e-3)


def test_rotation_needs_root_cam():
    sample = _rotated_sample(20.0, (0, 0, 500))
    del sample['root_cam']
    with pytest.raises(KeyError, match='root_cam'):
        MirrorHandCrop()(sample)
