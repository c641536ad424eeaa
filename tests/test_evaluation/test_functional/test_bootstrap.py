"""Bootstrap intervals over frames."""
import numpy as np
import pytest

from hdr_mm.evaluation.functional import bootstrap_gain, bootstrap_mean


def test_mean_is_joint_weighted_and_interval_covers_it():
    sums = np.array([10., 0., 40.])
    counts = np.array([2., 0., 8.])  # the second frame has no joint
    out = bootstrap_mean(sums, counts, num_samples=500)
    assert out['mean'] == pytest.approx(50 / 10)
    assert out['frames'] == 2
    assert out['low'] <= out['mean'] <= out['high']
    assert np.isnan(bootstrap_mean([1.], [0.])['mean'])


def test_gain_and_its_interval():
    rng = np.random.default_rng(0)
    base = rng.uniform(50, 100, 400)
    counts = np.full(400, 21.)
    # the method removes 30 % of every frame's error: a tight interval
    out = bootstrap_gain(base * 21, counts, 0.7 * base * 21)
    assert out['gain'] == pytest.approx(0.3)
    assert out['low'] == pytest.approx(0.3) and out['high'] == \
        pytest.approx(0.3)
    # noisy per-frame gains around 30 %: the interval holds 0.3 and is
    # narrower with more frames
    new = base * rng.uniform(0.4, 1.0, 400)
    wide = bootstrap_gain(base[:40] * 21, counts[:40], new[:40] * 21)
    narrow = bootstrap_gain(base * 21, counts, new * 21)
    assert narrow['low'] < 0.3 < narrow['high']
    assert narrow['high'] - narrow['low'] < wide['high'] - wide['low']
    # the same seed gives the same interval
    assert bootstrap_gain(base * 21, counts, new * 21) == narrow
    with pytest.raises(ValueError, match='same frames'):
        bootstrap_gain(base, counts, new[:10])
