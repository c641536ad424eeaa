"""Placing a root-relative hand in the camera frame."""
import numpy as np

from hdr_mm.structures import default_camera, solve_root_translation
from hdr_mm.datasets.synthetic import camera, sample_scene


def test_recovers_the_root_of_a_projected_hand():
    cam = camera(256)
    scene = sample_scene(np.random.default_rng(4), 256, cam, (0.2, 0.5), 0.)
    fx, fy, cx, cy = cam
    for hand in (slice(0, 21), slice(21, 42)):
        joints = scene.joints[hand]
        root = joints[20]
        uv = np.stack([fx * joints[:, 0] / joints[:, 2] + cx,
                       fy * joints[:, 1] / joints[:, 2] + cy], 1)
        t = solve_root_translation(uv, joints - root, (fx, fy), (cx, cy))
        np.testing.assert_allclose(t, root, rtol=1e-4, atol=1e-2)
        # a hand twice as large is placed twice as far
        t2 = solve_root_translation(uv, 2 * (joints - root), (fx, fy),
                                    (cx, cy))
        assert abs(t2[2] / t[2] - 2) < 0.02


def test_degenerate_input_gives_nan():
    uv = np.zeros((21, 2))
    xyz = np.zeros((21, 3))
    assert np.isnan(solve_root_translation(uv, xyz, (100, 100),
                                           (50, 50))).all()
    # all 2D joints on one pixel (an untrained heat-map estimator): the
    # depth is not measurable, whatever the 3D joints
    xyz = np.random.RandomState(0).rand(21, 3) * 50
    assert np.isnan(solve_root_translation(
        np.full((21, 2), 40.0), xyz, (100, 100), (50, 50))).all()
    w = np.zeros(21)
    w[0] = 1  # one usable joint
    assert np.isnan(solve_root_translation(
        np.random.rand(21, 2), np.random.rand(21, 3), (100, 100), (50, 50),
        w)).all()


def test_default_camera():
    focal, pp = default_camera((300, 400))
    np.testing.assert_allclose(focal, [600, 600])
    np.testing.assert_allclose(pp, [199.5, 149.5])
