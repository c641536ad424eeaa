import numpy as np
import pytest
from mmpose.datasets.transforms import GetBBoxCenterScale, TopdownAffine

from hdr_mm.datasets.transforms import GetHandBBox, WarpExtraKeys


def _pipeline(results, **bbox_kwargs):
    for t in (GetHandBBox(**bbox_kwargs), GetBBoxCenterScale(padding=2.0),
              TopdownAffine(input_size=(64, 64)),
              WarpExtraKeys(image_keys=['gt_img'],
                            mask_keys=['r_amodal', 'rl_visible'])):
        results = t(results)
    return results


def _results():
    mask = np.zeros((100, 120), np.uint8)
    mask[40:60, 50:70] = 1  # 20 x 20 box centred at (60, 50)
    rl = mask * 2
    img = np.full((100, 120, 3), 200, np.uint8)
    return dict(img=img, gt_img=img.copy(), r_amodal=mask, rl_visible=rl,
                img_path='x.jpg')


def test_crop_from_mask():
    out = _pipeline(_results(), mask_key='r_amodal')
    # the mask's exact extent: columns 50..69, rows 40..59
    np.testing.assert_allclose(out['bbox'], [[49.5, 39.5, 69.5, 59.5]])
    # enlarged x2: a 40 px square around the box -> 64 px
    np.testing.assert_allclose(out['input_scale'], [40, 40])
    np.testing.assert_allclose(out['input_center'], [59.5, 49.5])
    m = out['r_amodal']
    assert m.shape == (64, 64) and out['gt_img'].shape == (64, 64, 3)
    ys, xs = np.nonzero(m)
    # the box fills the central half of the crop
    assert xs.min() in (15, 16) and xs.max() in (47, 48)
    assert ys.min() in (15, 16) and ys.max() in (47, 48)
    # nearest warping keeps label values
    assert set(np.unique(out['rl_visible'])) == {0, 2}


def test_crop_pads_outside_image():
    r = _results()
    r['r_amodal'][:] = 0
    r['r_amodal'][0:30, 0:30] = 1  # box at the corner: crop leaves image
    out = _pipeline(r, mask_key='r_amodal')
    # the top-left quarter of the crop is outside the image: zero padded
    assert (out['img'][:14, :14] == 0).all()
    assert (out['gt_img'][:14, :14] == 0).all()
    assert (out['img'][40:, 40:] == 200).all()


def test_crop_from_keypoints_keeps_aspect():
    r = _results()
    r['keypoints'] = np.array([[[10.0, 20.0], [50.0, 30.0], [999, 999]]])
    r['keypoints_visible'] = np.array([[1.0, 1.0, 0.0]])
    out = _pipeline(r)
    np.testing.assert_allclose(out['bbox'], [[10, 20, 50, 30]])
    # 40 x 10 box, x2, made square on its longer side
    np.testing.assert_allclose(out['input_scale'], [80, 80])
    # keypoints follow the crop: box centre -> crop centre
    kp = out['transformed_keypoints'][0]
    np.testing.assert_allclose(kp[0], [32 - 20 * 64 / 80, 32 - 5 * 64 / 80],
                               atol=1e-4)


def test_empty_mask_raises():
    r = _results()
    r['r_amodal'][:] = 0
    with pytest.raises(ValueError, match='r_amodal of x.jpg is empty'):
        GetHandBBox(mask_key='r_amodal')(r)
