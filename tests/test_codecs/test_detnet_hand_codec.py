import numpy as np
import pytest

from hdr_mm.codecs import DetNetHandCodec
from hdr_mm.structures.hand_joints import SHPE_PARENTS


def random_hand(rng, n_joints=21):
    # joints well inside a 256 crop; 3D in mm around a depth of 600 mm
    kpts = rng.uniform(20, 236, size=(1, n_joints, 2)).astype(np.float32)
    cam = rng.normal(0, 40, size=(1, n_joints, 3)).astype(np.float32)
    cam[..., 2] += 600
    return kpts, cam


def test_round_trip_within_grid_precision():
    rng = np.random.default_rng(0)
    codec = DetNetHandCodec()
    kpts, cam = random_hand(rng)
    enc = codec.encode(kpts, np.ones((1, 21)), cam)
    assert enc['heatmaps'].shape == (21, 64, 64)
    assert enc['heatmaps'].max() == pytest.approx(1.0)
    np.testing.assert_array_equal(enc['keypoint_weights'], 1)
    # dense maps are what the location/delta branches predict
    dm = codec.dense_maps(enc['delta_targets'][0])
    lm = codec.dense_maps(enc['location_targets'][0])
    assert dm.shape == lm.shape == (21, 3, 64, 64)
    kp, scores, xyz, delta = codec.decode((enc['heatmaps'], dm, lm))
    assert kp.shape == (1, 21, 2) and xyz.shape == (1, 21, 3)
    # nearest cell of a stride-4 grid: at most half a cell (2 px) per axis
    assert np.abs(kp - kpts).max() <= 2.0
    np.testing.assert_allclose(scores, 1.0)
    # 3D: root-relative, divided by the wrist-to-middle-MCP length
    bone = np.linalg.norm(cam[0, 9] - cam[0, 0])
    assert enc['ref_bone_length'][0] == pytest.approx(bone, rel=1e-6)
    np.testing.assert_allclose(xyz[0] * bone, cam[0] - cam[0, 0], atol=1e-3)
    np.testing.assert_allclose(xyz[0, 9].dot(xyz[0, 9]), 1.0, rtol=1e-5)
    # deltas are unit bone directions child - parent, wrist has none
    np.testing.assert_allclose(np.linalg.norm(delta[0, 1:], axis=-1), 1,
                               rtol=1e-5)
    j, p = 8, SHPE_PARENTS[8]
    d = cam[0, j] - cam[0, p]
    np.testing.assert_allclose(delta[0, j], d / np.linalg.norm(d), atol=1e-6)
    assert enc['delta_weights'][0, 0] == 0


def test_gaussian_peak_near_border_is_exact():
    # mmpose's generator shifts the peak by one cell here (radius 7.5)
    codec = DetNetHandCodec(require_3d=False)
    kpts = np.full((1, 21, 2), 128, np.float32)
    kpts[0, 3] = (4 * 3, 4 * 2)  # cell (3, 2)
    enc = codec.encode(kpts, np.ones((1, 21)))
    y, x = np.unravel_index(enc['heatmaps'][3].argmax(), (64, 64))
    assert (x, y) == (3, 2)


def test_invalid_joints_get_zero_weights():
    rng = np.random.default_rng(1)
    codec = DetNetHandCodec()
    kpts, cam = random_hand(rng)
    vis = np.ones((1, 21))
    vis[0, 6] = 0  # an index-finger joint
    kpts[0, 12] = (-100, 50)  # outside the crop
    enc = codec.encode(kpts, vis, cam)
    assert enc['keypoint_weights'][0, 6] == 0
    assert enc['keypoint_weights'][0, 12] == 0
    assert enc['heatmaps'][6].max() == 0 and enc['heatmaps'][12].max() == 0
    # the bones to and from joint 6 lose their delta supervision
    assert enc['delta_weights'][0, 6] == 0 and enc['delta_weights'][0, 7] == 0
    assert enc['location_weights'][0, 6] == 0
    assert enc['location_weights'][0, 12] == 0
    assert enc['location_weights'][0].sum() == 19

    # middle MCP missing: no scale, so no 3D location supervision at all
    vis = np.ones((1, 21))
    vis[0, 9] = 0
    enc = codec.encode(kpts, vis, cam)
    assert enc['ref_bone_length'][0] == 0
    assert enc['location_weights'].sum() == 0

    # a crop whose joints are all invalid
    enc = codec.encode(kpts, np.zeros((1, 21)), cam)
    for k in ('keypoint_weights', 'delta_weights', 'location_weights'):
        assert enc[k].sum() == 0
    assert enc['heatmaps'].max() == 0


def test_decode_all_zero_heatmap():
    codec = DetNetHandCodec()
    maps = np.zeros((21, 64, 64), np.float32)
    vec = np.zeros((21, 3, 64, 64), np.float32)
    kp, scores, xyz, _ = codec.decode((maps, vec, vec))
    assert (kp == -1).all() and (scores == 0).all()


def test_bad_sizes():
    with pytest.raises(ValueError, match='integer multiple'):
        DetNetHandCodec(input_size=(250, 250), heatmap_size=(64, 64))
    with pytest.raises(ValueError, match='same integer multiple'):
        DetNetHandCodec(input_size=(256, 128), heatmap_size=(64, 64))
    codec = DetNetHandCodec()
    with pytest.raises(ValueError, match='keypoints must be'):
        codec.encode(np.zeros((1, 42, 2)))
    with pytest.raises(ValueError, match='MirrorHandCrop'):
        codec.encode(np.zeros((1, 21, 2)))
    with pytest.raises(ValueError, match='keypoints_3d'):
        codec.encode(np.zeros((1, 21, 2)), None, np.zeros((1, 21, 2)))


def _softmax_maps(codec, kpts):
    """Per-joint distributions of a perfect softmax head: the targets
    normalised to sum 1."""
    enc = codec.encode(kpts, np.ones((1, 21)), require_3d_dummy(kpts))
    hm = enc['heatmaps']
    return enc, hm / hm.sum(axis=(1, 2), keepdims=True)


def require_3d_dummy(kpts):
    rng = np.random.default_rng(1)
    cam = rng.normal(0, 40, size=(1, 21, 3)).astype(np.float32)
    cam[..., 2] += 600
    return cam


def test_softmax_decode_is_sub_cell_and_scores_are_mass():
    """A distribution centred between cells decodes between them (the 5x5
    mean), not on a cell as the arg-max does; its score is the window's
    probability mass, near 1 for a sharp map."""
    codec = DetNetHandCodec(input_size=(128, 128), heatmap_size=(32, 32),
                            sigma=1.0, heatmap_type='softmax')
    rng = np.random.default_rng(3)
    kpts = rng.uniform(16, 112, size=(1, 21, 2)).astype(np.float32)
    enc, prob = _softmax_maps(codec, kpts)
    # move each distribution half a cell right: average with its shift
    shifted = 0.5 * (prob + np.roll(prob, 1, axis=2))
    dm = codec.dense_maps(enc['delta_targets'][0])
    lm = codec.dense_maps(enc['location_targets'][0])
    kp, scores, xyz, _ = codec.decode((shifted, dm, lm))
    cells = np.floor(kpts / 4 + 0.5)[0]
    # between the two cells, much closer to the true mean (+0.5) than the
    # arg-max cell (+0); the window truncates the tails a little
    assert np.all(np.abs(kp[0, :, 0] / 4 - (cells[:, 0] + 0.5)) < 0.1)
    np.testing.assert_allclose(kp[0, :, 1] / 4, cells[:, 1], atol=0.02)
    assert np.all(scores > 0.85) and np.all(scores <= 1.0 + 1e-6)
    # a flat map has little mass in any window
    flat = np.full_like(prob, 1.0 / (32 * 32))
    _, flat_scores, _, _ = codec.decode((flat, dm, lm))
    assert np.all(flat_scores <= 25 / 1024 + 1e-6)


def test_expectation_readout():
    """'expectation' reads the location maps as the heat-map-weighted mean
    over all cells; 'argmax' reads the arg-max cell only."""
    kw = dict(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0,
              heatmap_type='softmax', require_3d=False)
    arg = DetNetHandCodec(readout='argmax', **kw)
    exp = DetNetHandCodec(readout='expectation', **kw)
    hm = np.zeros((21, 16, 16), np.float32)
    hm[:, 5, 5], hm[:, 5, 6] = 0.75, 0.25  # arg-max at (5, 5)
    lm = np.zeros((21, 3, 16, 16), np.float32)
    lm[:, :, 5, 5], lm[:, :, 5, 6] = 1.0, 3.0
    dm = lm.copy()
    _, _, xyz_arg, d_arg = arg.decode((hm, dm, lm))
    _, _, xyz_exp, d_exp = exp.decode((hm, dm, lm))
    np.testing.assert_allclose(xyz_arg, 1.0)
    np.testing.assert_allclose(xyz_exp, 0.75 * 1 + 0.25 * 3)
    np.testing.assert_allclose(d_exp, xyz_exp)
    with pytest.raises(ValueError, match='readout'):
        DetNetHandCodec(readout='mean')
    with pytest.raises(ValueError, match='heatmap_type'):
        DetNetHandCodec(heatmap_type='logits')
