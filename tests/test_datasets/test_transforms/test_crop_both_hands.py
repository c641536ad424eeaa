"""CropBothHands: one two-hand crop for HASM training and the pipeline."""
import numpy as np
import pytest
from mmpose.registry import TRANSFORMS as POSE
from mmseg.registry import TRANSFORMS as SEG

from hdr_mm.datasets.transforms import CropBothHands
from hdr_mm.structures import crop_warp_matrix, warp_to_crop


def _frame():
    rng = np.random.default_rng(0)
    img = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    return dict(img=img, img_path='f.jpg')


def test_registered_for_both_scopes():
    assert POSE.get('CropBothHands') is CropBothHands
    assert SEG.get('CropBothHands') is CropBothHands


def test_box_sources_and_geometry():
    t = CropBothHands(out_size=64)
    out = t(dict(_frame(), bbox=np.array([[40, 30, 80, 50],
                                          [60, 20, 90, 40]], np.float32)))
    # union (40, 20, 90, 50): centre (65, 35), side 2 x 50
    np.testing.assert_allclose(out['input_center'], [65, 35])
    np.testing.assert_allclose(out['input_scale'], [100, 100])
    np.testing.assert_allclose(out['crop_box'], [15, -15, 115, 85])
    assert out['img'].shape == (64, 64, 3) and out['frame_shape'] == (120,
                                                                      160)
    ref = warp_to_crop(_frame()['img'], crop_warp_matrix((65, 35), 100, 64),
                       64)
    np.testing.assert_array_equal(out['img'], ref)
    # HASM training: the union of the amodal masks
    seg = np.zeros((120, 160, 4), np.uint8)
    seg[30:50, 40:80, 2] = 1  # r_amodal
    out = t(dict(_frame(), gt_seg_map=seg, seg_fields=['gt_seg_map']))
    np.testing.assert_allclose(out['input_center'], [59.5, 39.5])
    assert out['gt_seg_map'].shape == (64, 64, 4)
    # nothing to locate the hands
    with pytest.raises(ValueError, match='f.jpg'):
        t(dict(_frame(), gt_seg_map=np.zeros_like(seg)))


def test_sample_box_scale_overrides_the_transform():
    """The inferencer's whole-image box is the crop itself (scale 1),
    not enlarged x2 like a hands' box."""
    t = CropBothHands(out_size=64, box_scale=2.0)
    whole = np.array([[-0.5, -0.5, 159.5, 119.5]], np.float32)
    out = t(dict(_frame(), bbox=whole, hands_box_scale=1.0))
    np.testing.assert_allclose(out['input_scale'], [160, 160])
    np.testing.assert_allclose(out['input_center'], [79.5, 59.5])
    out = t(dict(_frame(), bbox=whole))
    np.testing.assert_allclose(out['input_scale'], [320, 320])
    with pytest.raises(ValueError, match='hands_box_scale.*f.jpg'):
        t(dict(_frame(), bbox=whole, hands_box_scale=0.0))


def test_context_window_and_extra_keys():
    t = CropBothHands(out_size=32, context_factor=2.0,
                      mask_keys=['gt_hand_masks'], context_keys=['alone'])
    frame = _frame()
    alone = frame['img'][..., ::-1].copy()
    masks = np.zeros((120, 160, 4), np.uint8)
    masks[40:60, 50:70] = 1
    out = t(dict(frame, bbox=np.array([[50, 40, 70, 60]], np.float32),
                 alone=alone, gt_hand_masks=masks))
    x0, y0 = out['context_origin'].astype(int)
    h, w = out['context_img'].shape[:2]
    np.testing.assert_array_equal(out['context_img'],
                                  frame['img'][y0:y0 + h, x0:x0 + w])
    np.testing.assert_array_equal(out['context_alone'],
                                  alone[y0:y0 + h, x0:x0 + w])
    # the window covers twice the crop around its centre (clipped)
    assert x0 <= 60 - 40 and x0 + w >= 60 + 40
    assert out['gt_hand_masks'].shape == (32, 32, 4)
    assert set(np.unique(out['gt_hand_masks'])) == {0, 1}


def test_bad_arguments():
    with pytest.raises(ValueError, match='positive'):
        CropBothHands(out_size=0)
    with pytest.raises(ValueError, match='context_factor'):
        CropBothHands(context_factor=0.5)
