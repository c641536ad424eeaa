"""Hand2DMetric on hand-made values: per-hand box normalisation, the
single/interacting split and the missed-hand rule."""
import numpy as np
import pytest

from hdr_mm.evaluation.metrics import Hand2DMetric
from hdr_mm.evaluation.metrics.hand_2d_metric import (hand_2d_errors,
                                                      summarise_2d)


def _hand(x0, y0, w, h):
    """21 joints spread over the box (x0, y0, w, h): its corners are
    joints 1 and 2, so the joints' box is exactly that box."""
    pts = np.zeros((21, 2))
    pts[:] = [x0 + w / 2, y0 + h / 2]
    pts[1] = [x0, y0]
    pts[2] = [x0 + w, y0 + h]
    return pts


def _frame(pred, gt, vis=None, found=(1, 1), interacting=True, dim=2):
    """A 42-joint frame as a dict data sample; ``dim`` 3 appends a depth
    coordinate (the 3D pipeline's ``keypoints``)."""
    vis = np.ones(len(gt)) if vis is None else vis
    if dim == 3:
        pred = np.concatenate([pred, np.full((len(pred), 1), 7.)], 1)
        gt = np.concatenate([gt, np.full((len(gt), 1), -3.)], 1)
    return dict(
        pred_instances=dict(keypoints=pred[None],
                            hand_type=np.asarray(found, float)[None]),
        gt_instances=dict(keypoints=gt[None], keypoints_visible=vis[None]),
        hand_type=np.array([[1, 1]]) if interacting else np.array([[1, 0]]),
    )


def test_hand_made_values():
    right = _hand(10, 20, 100, 50)  # box side 100
    left = _hand(200, 20, 20, 40)  # box side 40
    gt = np.concatenate([right, left])
    # interacting frame: right joints 3..12 off by 15 px (< 0.2 * 100 = 20)
    # and 13..20 off by 25 px (fail); left joint 3 off by (6, 8) = 10 px
    # (> 0.2 * 40 = 8: fails, although it would pass on the right hand's
    # or the two-hand box)
    p1 = gt.copy()
    p1[3:13, 0] += 15
    p1[13:21, 1] += 25
    p1[21 + 3] += [6, 8]
    # single frame (right hand only; the left one is not annotated and its
    # 1000 px error must not count): joint 0 off by 3 px
    vis2 = np.r_[np.ones(21), np.zeros(21)]
    p2 = gt.copy()
    p2[0] += [3, 0]
    p2[21:] += 1000
    metric = Hand2DMetric()
    metric.process(None, [_frame(p1, gt, dim=3),
                          _frame(p2, gt, vis2, found=(1, 0),
                                 interacting=False)])
    res = metric.compute_metrics(metric.results)
    assert res['EPE_interacting'] == pytest.approx(
        (10 * 15 + 8 * 25 + 10) / 42)
    assert res['PCK_interacting'] == pytest.approx((42 - 8 - 1) / 42)
    assert res['EPE_single'] == pytest.approx(3 / 21)
    assert res['PCK_single'] == 1.0
    assert res['EPE_all'] == pytest.approx((10 * 15 + 8 * 25 + 10 + 3) / 63)
    assert res['PCK_all'] == pytest.approx((63 - 9) / 63)
    assert (res['hands_interacting'], res['hands_single'],
            res['hands_all']) == (2, 1, 3)
    assert res['missed_all'] == 0  # the unannotated left hand is not missed


def test_missed_hand_fails_pck_and_leaves_epe():
    gt = np.concatenate([_hand(0, 0, 50, 50), _hand(100, 0, 50, 50)])
    pred = gt.copy()
    pred[:21] += [1, 0]  # right: 1 px everywhere
    pred[21:] = 0  # left: not found, placeholder far away
    metric = Hand2DMetric()
    metric.process(None, [_frame(pred, gt, found=(1, 0))])
    res = metric.compute_metrics(metric.results)
    assert res['EPE_interacting'] == pytest.approx(1.0)
    assert res['PCK_interacting'] == pytest.approx(0.5)
    assert res['missed_interacting'] == 1 and res['hands_interacting'] == 2
    assert np.isnan(res['EPE_single']) and np.isnan(res['PCK_single'])
    # a frame whose only hand is missed: no EPE, PCK 0
    metric = Hand2DMetric()
    metric.process(None, [_frame(pred, gt, found=(0, 0))])
    res = metric.compute_metrics(metric.results)
    assert np.isnan(res['EPE_all']) and res['PCK_all'] == 0
    assert res['missed_all'] == 2


def test_single_hand_samples_and_errors():
    gt = _hand(0, 0, 40, 10)
    pred = gt + [0, 5]  # 5 px < 0.2 * 40
    sample = dict(pred_instances=dict(keypoints=pred[None]),
                  gt_instances=dict(keypoints=gt[None],
                                    keypoints_visible=np.ones((1, 21))),
                  interacting=True)
    metric = Hand2DMetric(num_hands=1, thr=0.1, prefix='shpe')
    metric.process(None, [sample])
    res = metric.compute_metrics(metric.results)
    assert res['EPE_interacting'] == pytest.approx(5.0)
    assert res['PCK_interacting'] == 0.0  # 5 px >= 0.1 * 40
    with pytest.raises(KeyError, match='interacting'):
        Hand2DMetric(num_hands=1).process(
            None, [{k: v for k, v in sample.items() if k != 'interacting'}])
    with pytest.raises(ValueError, match='2 hands'):
        hand_2d_errors(np.zeros((21, 2)), np.zeros((21, 2)), np.ones(21), 2)
    with pytest.raises(ValueError, match='num_hands'):
        Hand2DMetric(num_hands=0)


def test_summary_is_a_function_of_frames():
    """The bootstrap resamples the per-frame results: a frame counted
    twice weighs twice."""
    gt = np.concatenate([_hand(0, 0, 50, 50), _hand(100, 0, 50, 50)])
    a, b = gt + [2, 0], gt + [4, 0]
    metric = Hand2DMetric()
    metric.process(None, [_frame(a, gt), _frame(b, gt)])
    r = metric.results
    assert summarise_2d([r[0], r[0], r[1]])['EPE_all'] == pytest.approx(
        8 / 3)


def test_per_frame_file_sums_to_the_metrics(tmp_path):
    gt = np.concatenate([_hand(0, 0, 50, 50), _hand(100, 0, 50, 50)])
    a = gt + [2, 0]
    b = gt + [20, 0]  # 20 px >= 0.2 * 50: every joint fails
    path = tmp_path / 'sub' / 'per_frame.npz'
    metric = Hand2DMetric(per_frame_file=str(path))
    samples = [_frame(a, gt), _frame(b, gt, found=(1, 0))]
    samples[0]['img_path'] = 'a.jpg'
    samples[1]['img_path'] = 'b.jpg'
    metric.process(None, samples)
    res = metric.compute_metrics(metric.results)
    f = np.load(path)
    assert f['frames'].tolist() == ['a.jpg', 'b.jpg']
    assert f['interacting'].tolist() == [True, True]
    np.testing.assert_allclose(f['EPE_sum'], [42 * 2, 21 * 20])
    np.testing.assert_array_equal(f['EPE_count'], [42, 21])
    np.testing.assert_array_equal(f['PCK_fail'], [0, 42])
    np.testing.assert_array_equal(f['PCK_count'], [42, 42])
    np.testing.assert_array_equal(f['missed'], [0, 1])
    assert res['EPE_all'] == pytest.approx(f['EPE_sum'].sum() /
                                           f['EPE_count'].sum())
    assert res['PCK_all'] == pytest.approx(1 - 42 / 84)
