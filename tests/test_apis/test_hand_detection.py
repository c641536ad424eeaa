"""Choosing HDR's hands from a detector's boxes
(hdr_mm.apis.hand_detection)."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from hdr_mm.apis.hand_detection import (DetectedHands, hand_side_labels,
                                        select_hands)

SIDE = ('right', 'left')
A = [10, 10, 50, 60]      # one hand
B = [60, 20, 110, 70]     # another, disjoint from A
A2 = [11, 10, 51, 61]     # A again (IoU ~0.95)


def _det(boxes, scores, labels, tensors=False):
    inst = InstanceData()
    conv = (lambda x, t: torch.tensor(x, dtype=t)) if tensors else (
        lambda x, t: np.asarray(x))
    inst.bboxes = conv(np.reshape(boxes, (-1, 4)), torch.float32)
    inst.scores = conv(scores, torch.float32)
    inst.labels = conv(labels, torch.int64)
    return inst


def test_hand_side_labels():
    assert hand_side_labels(('right', 'left')) == dict(right=0, left=1)
    assert hand_side_labels(['Left_hand', 'right hand']) == dict(
        right=1, left=0)
    assert hand_side_labels(('hand', )) is None
    assert hand_side_labels(('person', 'bicycle')) is None
    assert hand_side_labels(('right', 'right', 'left')) is None
    assert hand_side_labels(None) is None


@pytest.mark.parametrize('tensors', [False, True])
def test_best_per_side(tensors):
    det = _det([A, B, B, A], [0.9, 0.8, 0.6, 0.5], [0, 1, 0, 1], tensors)
    hands = select_hands(det, SIDE, score_thr=0.3)
    assert hands.sides == ('right', 'left')
    np.testing.assert_allclose(hands.bboxes, [A, B])
    np.testing.assert_allclose(hands.scores, [0.9, 0.8])
    np.testing.assert_allclose(hands.union_box, [10, 10, 110, 70])
    np.testing.assert_array_equal(hands.hand_type, [1, 1])
    assert hands.to_array().shape == (2, 5)
    np.testing.assert_allclose(hands.box_of('left'), B)


def test_more_than_two_hands_keeps_best_per_side():
    c = [120, 0, 160, 40]
    det = _det([c, A, B, c], [0.5, 0.95, 0.9, 0.4], [0, 0, 1, 1])
    hands = select_hands(det, SIDE)
    assert hands.sides == ('right', 'left')
    np.testing.assert_allclose(hands.bboxes, [A, B])


def test_output_is_right_then_left():
    det = _det([B, A], [0.9, 0.8], [1, 0])
    hands = select_hands(det, SIDE)
    assert hands.sides == ('right', 'left')
    np.testing.assert_allclose(hands.bboxes, [A, B])


def test_no_hand_is_empty_not_an_error():
    for det in (_det(np.zeros((0, 4)), [], []),
                _det([A, B], [0.2, 0.1], [0, 1])):
        hands = select_hands(det, SIDE, score_thr=0.3)
        assert hands.is_empty and len(hands) == 0
        assert hands.union_box is None
        assert hands.bboxes.shape == (0, 4) and hands.scores.shape == (0, )
        np.testing.assert_array_equal(hands.hand_type, [0, 0])
        assert hands.to_array().shape == (0, 5)
    assert DetectedHands().is_empty


def test_one_hand():
    hands = select_hands(_det([B, A], [0.9, 0.1], [1, 0]), SIDE)
    assert hands.sides == ('left', )
    np.testing.assert_array_equal(hands.hand_type, [0, 1])
    assert hands.box_of('right') is None
    np.testing.assert_allclose(hands.union_box, B)


def test_same_hand_with_both_sides_counts_once():
    # the detector is unsure of A's side: A as right (0.9), A as left
    # (0.85), and the real left hand B (0.5)
    det = _det([A, A2, B], [0.9, 0.85, 0.5], [0, 1, 1])
    hands = select_hands(det, SIDE)
    assert hands.sides == ('right', 'left')
    np.testing.assert_allclose(hands.bboxes, [A, B])
    # without B, only one hand remains
    hands = select_hands(_det([A, A2], [0.9, 0.85], [0, 1]), SIDE)
    assert hands.sides == ('right', )
    # overlapping hands below the threshold are two hands
    hands = select_hands(_det([A, A2], [0.9, 0.85], [0, 1]), SIDE,
                         same_hand_iou=0.99)
    assert hands.sides == ('right', 'left')


def test_single_class_detector_two_best():
    det = _det([A, A2, B, [0, 0, 5, 5]], [0.9, 0.8, 0.7, 0.6], [0, 0, 0, 0])
    for classes in (('hand', ), None, ('person', 'bicycle')):
        hands = select_hands(det, classes)
        assert hands.sides == ('hand', 'hand')
        np.testing.assert_allclose(hands.bboxes, [A, B])
        assert hands.hand_type is None
    one = select_hands(det, ('hand', ), max_hands=1)
    np.testing.assert_allclose(one.bboxes, [A])
    # only the hand label of a multi-class detector
    det = _det([A, B], [0.9, 0.8], [3, 0])
    hands = select_hands(det, ('person', ), hand_labels=[0])
    np.testing.assert_allclose(hands.bboxes, [B])


def test_clipping_and_bad_boxes():
    det = _det([[-10, -5, 30, 40], [200, 200, 260, 260],
                [np.nan, 0, 1, 1]], [0.9, 0.8, 0.99], [0, 1, 1])
    hands = select_hands(det, SIDE, image_shape=(100, 120))
    # the second box lies outside the image, the third is not finite
    assert hands.sides == ('right', )
    np.testing.assert_allclose(hands.bboxes, [[0, 0, 30, 40]])


def test_accepts_datasample_and_dict():
    from mmdet.structures import DetDataSample
    sample = DetDataSample()
    sample.pred_instances = _det([A], [0.9], [1], tensors=True)
    assert select_hands(sample, SIDE).sides == ('left', )
    assert select_hands(dict(bboxes=[A], scores=[0.9]),
                        ('hand', )).sides == ('hand', )
    with pytest.raises(ValueError, match='need `bboxes`'):
        select_hands(dict(scores=[0.9]), SIDE)
    with pytest.raises(ValueError, match='2 boxes, 1 scores'):
        select_hands(dict(bboxes=[A, B], scores=[0.9], labels=[0]), SIDE)
