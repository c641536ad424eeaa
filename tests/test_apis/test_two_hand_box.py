"""The two-hand box from user boxes, joints, detections or the image."""
import numpy as np
import pytest

from hdr_mm.apis import DetectedHands, two_hand_box


def test_sources_in_order():
    shape = (100, 120)
    box, src = two_hand_box(shape, 'img', bboxes=[[0, 5, 10, 20, 0.9],
                                                  [4, 1, 8, 30, 0.5]])
    assert src == 'bboxes'
    np.testing.assert_array_equal(box, [0, 1, 10, 30])
    kpts = np.array([[5, 6, 1], [20, 30, 1], [-900, 2, 0]], np.float32)
    box, src = two_hand_box(shape, 'img', keypoints_2d=kpts)
    assert src == 'keypoints_2d'
    np.testing.assert_array_equal(box, [5, 6, 20, 30])
    hands = DetectedHands(
        bboxes=np.array([[10, 10, 30, 30], [40, 5, 50, 20]], np.float32),
        scores=np.ones(2, np.float32), sides=('right', 'left'))
    box, src = two_hand_box(shape, 'img', detected=hands)
    assert src == 'detector'
    np.testing.assert_array_equal(box, [10, 5, 50, 30])
    box, src = two_hand_box(shape, 'img', detected=DetectedHands())
    assert src == 'image'
    np.testing.assert_array_equal(box, [-0.5, -0.5, 119.5, 99.5])
    # the user's box wins over the rest; an empty one does not count
    assert two_hand_box(shape, 'img', bboxes=[1, 2, 3, 4],
                        detected=hands)[1] == 'bboxes'
    assert two_hand_box(shape, 'img', bboxes=[], detected=hands)[1] == \
        'detector'


def test_clipping_and_bad_boxes():
    shape = (100, 40)
    box, _ = two_hand_box(shape, 'img', bboxes=[-10, 5, 50, 200])
    np.testing.assert_array_equal(box, [-0.5, 5, 39.5, 99.5])
    with pytest.raises(ValueError, match='img.*outside'):
        two_hand_box(shape, 'img', bboxes=[50, 5, 60, 10])
    with pytest.raises(ValueError, match='inverted'):
        two_hand_box(shape, 'img', bboxes=[10, 5, 2, 10])
    with pytest.raises(ValueError, match='not finite'):
        two_hand_box(shape, 'img', bboxes=[0, 0, np.nan, 1])
    with pytest.raises(ValueError, match=r'\(4,\) or'):
        two_hand_box(shape, 'img', bboxes=[[0, 1, 2]])
    with pytest.raises(ValueError, match='no valid joint'):
        two_hand_box(shape, 'img', keypoints_2d=np.zeros((21, 3)))
    # a single joint: a box of zero area is fine (the crop has a minimum
    # side)
    box, _ = two_hand_box(shape, 'img', keypoints_2d=[[5., 6.]])
    np.testing.assert_array_equal(box, [5, 6, 5, 6])
