import numpy as np
import pytest
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope

import hdr_mm  # noqa: F401  (registers the metrics)
from hdr_mm.evaluation.metrics import HandMPJPEMetric, SHPEInputMetric


def two_input_sample(gt, main_offset, crop_offset, interacting):
    """A pipeline output with a main and an extra ('crop') prediction."""
    return dict(
        pred_instances=dict(keypoints_3d=(gt + main_offset)[None]),
        pred_instances_crop=dict(keypoints_3d=(gt + crop_offset)[None]),
        tdr_crops=np.zeros((2, 3, 4, 4), np.uint8),
        tdr_crops_crop=np.ones((2, 3, 4, 4), np.uint8),
        gt_instances=dict(keypoints_cam=gt[None],
                          keypoints_visible=np.ones((1, 21))),
        interacting=interacting)


def test_the_extra_input_is_scored_like_the_main_one():
    """The wrapped metric sees the extra input's results where it reads
    the main input's, and its keys are prefixed; the main input's metric
    in the same evaluator is unaffected."""
    init_default_scope('mmpose')
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 30, (21, 3))
    main_err = np.zeros(3)
    main_err_far = np.array([0., 0., 2.])  # joints 1.. 2 mm off
    crop_err = np.array([3., 4., 0.])  # joints 1.. 5 mm off
    samples = []
    for i, interacting in enumerate((False, True)):
        main, crop = np.zeros((21, 3)), np.zeros((21, 3))
        main[1:] = main_err_far if i else main_err
        crop[1:] = crop_err
        samples.append(two_input_sample(gt, main, crop, interacting))
    evaluator = Evaluator([
        dict(type='HandMPJPEMetric'),
        dict(type='SHPEInputMetric', shpe_input='crop',
             metrics=[dict(type='HandMPJPEMetric')]),
    ])
    evaluator.dataset_meta = dict(dataset_name='test')
    evaluator.process(samples)
    scores = evaluator.evaluate(len(samples))
    assert scores['hand/MPJPE_single'] == pytest.approx(0)
    assert scores['hand/MPJPE_interacting'] == pytest.approx(40 / 21)
    assert scores['crop/hand/MPJPE_single'] == pytest.approx(100 / 21)
    assert scores['crop/hand/MPJPE_interacting'] == pytest.approx(100 / 21)
    assert set(scores) == {k for k in scores if k.startswith('hand/')} | {
        f'crop/{k}' for k in scores if k.startswith('hand/')}
    # the same metric alone on samples holding the crop's results
    alone = HandMPJPEMetric()
    alone.process(None, [
        dict(s, pred_instances=s['pred_instances_crop']) for s in samples
    ])
    expected = alone.evaluate(len(samples))
    assert {f'crop/{k}': v for k, v in expected.items()} == {
        k: v for k, v in scores.items() if k.startswith('crop/')}


def test_fed_crops_and_meta_reach_the_wrapped_metrics():
    seen = []

    class Spy(HandMPJPEMetric):

        def process(self, data_batch, data_samples):
            seen.extend(s['tdr_crops'] for s in data_samples)
            super().process(data_batch, data_samples)

    spy = Spy()
    metric = SHPEInputMetric('crop', [spy], prefix='eval_shpe_alone')
    metric.dataset_meta = dict(dataset_name='x')
    assert spy.dataset_meta == dict(dataset_name='x')
    gt = np.zeros((21, 3))
    metric.process(None, [two_input_sample(gt, 0, 0, False)])
    assert seen[0].max() == 1  # tdr_crops_crop, not tdr_crops
    assert all(k.startswith('eval_shpe_alone/hand/')
               for k in metric.evaluate(1))


def test_missing_results_and_empty_metrics_are_named():
    with pytest.raises(ValueError, match='metrics is empty'):
        SHPEInputMetric('crop', [])
    metric = SHPEInputMetric('gt_alone', [HandMPJPEMetric()])
    gt = np.zeros((21, 3))
    with pytest.raises(KeyError, match="pred_instances_gt_alone.*"
                       "extra_shpe_inputs"):
        metric.process(None, [two_input_sample(gt, 0, 0, False)])
