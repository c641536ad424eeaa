import numpy as np
import pytest

from hdr_mm.evaluation.metrics import HandMPJPEMetric


def hand_sample(pred, gt, vis=None, interacting=False, key='keypoints_3d'):
    vis = np.ones(gt.shape[:1]) if vis is None else vis
    return dict(pred_instances={key: pred[None]},
                gt_instances=dict(keypoints_cam=gt[None],
                                  keypoints_visible=vis[None]),
                interacting=interacting)


def test_hand_computed_values():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 30, (21, 3))
    # sample 1 (single): every joint off by (3, 4, 0) -> 5 mm, plus a
    # global translation that root alignment must remove
    p1 = gt + np.array([3., 4., 0.]) + 100
    p1[0] -= [3., 4., 0.]  # the root itself is exact
    # sample 2 (interacting): joint 5 off by 12 mm, joint 7 not annotated
    # (its 1000 mm error must not count)
    p2 = gt.copy()
    p2[5, 2] += 12
    p2[7] += 1000
    vis2 = np.ones(21)
    vis2[7] = 0
    metric = HandMPJPEMetric()
    metric.process(None, [hand_sample(p1, gt),
                          hand_sample(p2, gt, vis2, interacting=True)])
    res = metric.compute_metrics(metric.results)
    # single: 20 joints at 5 mm, the root at 0 -> 100 / 21
    assert res['MPJPE_single'] == pytest.approx(100 / 21)
    # interacting: 20 annotated joints, one at 12 mm
    assert res['MPJPE_interacting'] == pytest.approx(12 / 20)
    # all: averaged over the 41 annotated joints
    assert res['MPJPE_all'] == pytest.approx((100 + 12) / 41)
    assert res['PA-MPJPE_all'] <= res['MPJPE_all']


def test_procrustes_removes_similarity():
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 30, (21, 3))
    c, s = np.cos(0.4), np.sin(0.4)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    pred = 1.3 * gt @ R.T + 7
    metric = HandMPJPEMetric(prefix='shpe')
    metric.process(None, [hand_sample(pred, gt)])
    res = metric.compute_metrics(metric.results)
    assert res['PA-MPJPE_single'] == pytest.approx(0, abs=1e-6)
    assert res['MPJPE_single'] > 5
    assert np.isnan(res['MPJPE_interacting'])


def test_two_hand_frames_interhand_order():
    # 42 InterHand2.6M joints, roots 20 (right) and 41 (left)
    rng = np.random.default_rng(2)
    gt = rng.normal(0, 30, (42, 3))
    pred = gt.copy()
    pred[21:] += 50  # left hand translated: no root-relative error
    pred[3] += [0, 0, 6]  # right thumb joint: 6 mm
    sample = dict(pred_instances=dict(keypoints_3d=pred[None]),
                  gt_instances=dict(keypoints_cam=gt[None],
                                    keypoints_visible=np.ones((1, 42))),
                  hand_type=np.array([[1, 1]]))
    metric = HandMPJPEMetric(root_indices=(20, 41))
    metric.process(None, [sample])
    res = metric.compute_metrics(metric.results)
    assert res['MPJPE_interacting'] == pytest.approx(6 / 42)
    # right root not annotated: the whole right hand is left out
    sample['gt_instances']['keypoints_visible'][0, 20] = 0
    metric = HandMPJPEMetric(root_indices=(20, 41))
    metric.process(None, [sample])
    assert metric.compute_metrics(metric.results)['MPJPE_all'] == \
        pytest.approx(0, abs=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match='modes'):
        HandMPJPEMetric(modes=['AUC'])
    metric = HandMPJPEMetric()
    gt = np.zeros((21, 3))
    with pytest.raises(KeyError, match='pred_instances.keypoints_3d'):
        metric.process(None, [hand_sample(gt, gt, key='xyz')])
    s = hand_sample(gt, gt)
    del s['interacting']
    with pytest.raises(KeyError, match="'interacting' or 'hand_type'"):
        metric.process(None, [s])
    with pytest.raises(ValueError, match='root index 20 is outside'):
        m = HandMPJPEMetric(root_indices=(20, 20))
        m.process(None, [hand_sample(np.zeros((42, 3)), np.zeros((42, 3)))])


def test_per_frame_file(tmp_path):
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 30, (21, 3))
    p1 = gt.copy()
    p1[3] += [0, 0, 10.]
    samples = [dict(hand_sample(p1, gt), img_path='a.jpg'),
               dict(hand_sample(gt, gt, interacting=True), img_path='b.jpg')]
    path = tmp_path / 'sub' / 'errors.npz'
    metric = HandMPJPEMetric(per_frame_file=str(path))
    metric.process(None, samples)
    res = metric.compute_metrics(metric.results)
    out = np.load(path)
    assert out['frames'].tolist() == ['a.jpg', 'b.jpg']
    assert out['interacting'].tolist() == [False, True]
    np.testing.assert_allclose(out['MPJPE_sum'], [10, 0])
    np.testing.assert_array_equal(out['MPJPE_count'], [21, 21])
    # the file's means are the metric's
    assert out['MPJPE_sum'].sum() / out['MPJPE_count'].sum() == \
        pytest.approx(res['MPJPE_all'])
    assert not list(tmp_path.glob('sub/*.tmp*'))
