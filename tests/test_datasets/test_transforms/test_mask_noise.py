import cv2
import numpy as np
import pytest

from hdr_mm.datasets.transforms import RandomMaskJitter
from hdr_mm.datasets.transforms.mask_noise import jitter_mask


def _disc(size=64, radius=15):
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, (size // 2, size // 2), radius, 1, -1)
    return mask


def _sample():
    return dict(img_path='x.jpg', r_amodal=_disc(), l_amodal=_disc(radius=8),
                rl_visible=_disc(radius=5) * 2)


def test_jitter_moves_only_the_boundary():
    mask, sigma = _disc(), 2.0
    rng = np.random.default_rng(0)
    # distance of every pixel to the boundary (inside and outside)
    dist = np.minimum(
        cv2.distanceTransform(mask, cv2.DIST_L2, 5),
        cv2.distanceTransform(1 - mask, cv2.DIST_L2, 5))
    changed = np.zeros(mask.shape, bool)
    for _ in range(20):
        out = jitter_mask(mask, sigma, 0.5, rng)
        assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1}
        changed |= out != mask
    # the boundary moved somewhere, and never farther than the soft band
    # (a Gaussian of sigma 2 is above 0.02 within about 2.05 sigma)
    assert changed.sum() > 50
    assert dist[changed].max() <= 2.1 * sigma + 1


def test_jitter_strength_grows_with_amplitude():
    mask = _disc()
    changed = []
    for amplitude in (0.0, 0.2, 0.6):
        rng = np.random.default_rng(1)
        changed.append(np.mean([(jitter_mask(mask, 2.0, amplitude, rng)
                                 != mask).sum() for _ in range(10)]))
    assert changed[0] == 0
    assert changed[0] < changed[1] < changed[2]


def test_random_mask_jitter_transform():
    sample = _sample()
    np.random.seed(0)
    out = RandomMaskJitter(prob=1.0, amplitude=0.5)(_sample())
    # amodal masks changed, the visible map (HASM sees it) left exact
    assert (out['r_amodal'] != sample['r_amodal']).any()
    assert (out['l_amodal'] != sample['l_amodal']).any()
    np.testing.assert_array_equal(out['rl_visible'], sample['rl_visible'])
    # reproducible from np.random's seed (mmengine seeds it per worker)
    np.random.seed(0)
    again = RandomMaskJitter(prob=1.0, amplitude=0.5)(_sample())
    np.testing.assert_array_equal(again['r_amodal'], out['r_amodal'])
    # prob 0: never
    out = RandomMaskJitter(prob=0.0, amplitude=0.5)(_sample())
    np.testing.assert_array_equal(out['r_amodal'], sample['r_amodal'])


def test_random_mask_jitter_bad_input():
    with pytest.raises(ValueError, match='prob'):
        RandomMaskJitter(prob=1.5)
    with pytest.raises(ValueError, match='sigma'):
        RandomMaskJitter(sigma=0)
    with pytest.raises(ValueError, match='amplitude'):
        RandomMaskJitter(amplitude=-1)
    with pytest.raises(KeyError, match='l_amodal'):
        RandomMaskJitter(prob=1.0)(dict(img_path='x.jpg',
                                        r_amodal=_disc()))
