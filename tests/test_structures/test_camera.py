"""Placing a root-relative hand in the camera frame."""
import numpy as np

from hdr_mm.structures import (default_camera, solve_root_translation,
                               solve_two_roots)
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


def _projected_hands(seed=4):
    cam = camera(256)
    scene = sample_scene(np.random.default_rng(seed), 256, cam, (0.2, 0.5),
                         0.)
    fx, fy, cx, cy = cam
    joints = scene.joints.astype(np.float64)
    uv = np.stack([fx * joints[:, 0] / joints[:, 2] + cx,
                   fy * joints[:, 1] / joints[:, 2] + cy], 1)
    hands = (slice(0, 21), slice(21, 42))
    return ([uv[h] for h in hands], [joints[h] - joints[h][20] for h in hands],
            np.stack([joints[20], joints[41]]), (fx, fy), (cx, cy))


def test_two_roots_with_the_true_gap_are_exact():
    uv, rel, roots, focal, pp = _projected_hands()
    got = solve_two_roots(uv, rel, focal, pp, roots[1, 2] - roots[0, 2])
    np.testing.assert_allclose(got, roots, rtol=1e-4, atol=1e-2)


def test_common_depth_keeps_a_size_error_out_of_the_offset():
    # one hand predicted 20% too large is placed 20% too far on its own
    # (~130 mm at 650-900 mm); placed with the other hand at the true gap,
    # the two wrists' offset moves by a small fraction of that
    uv, rel, roots, focal, pp = _projected_hands()
    rel = [rel[0] * 1.2, rel[1]]
    alone = np.stack([solve_root_translation(uv[h], rel[h], focal, pp)
                      for h in (0, 1)])
    together = solve_two_roots(uv, rel, focal, pp,
                               roots[1, 2] - roots[0, 2])
    want = roots[1] - roots[0]
    err_alone = np.linalg.norm((alone[1] - alone[0]) - want)
    err_together = np.linalg.norm((together[1] - together[0]) - want)
    assert err_alone > 100
    assert err_together < 0.2 * err_alone


def test_two_roots_fall_back_to_one_hand_when_the_other_is_degenerate():
    uv, rel, roots, focal, pp = _projected_hands()
    uv = [uv[0], np.full((21, 2), 40.0)]  # left: all joints on one pixel
    got = solve_two_roots(uv, rel, focal, pp, 100.0)
    np.testing.assert_allclose(got[0], roots[0], rtol=1e-4, atol=1e-2)
    assert np.isnan(got[1]).all()


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
