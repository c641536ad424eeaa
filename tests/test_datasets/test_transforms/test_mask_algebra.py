import numpy as np

from hdr_mm.datasets.transforms import MirrorToRight, TDRMaskAlgebra


def _sample(hand_type='right', flip=False):
    # 1 x 6 strip: target (right) covers 0-3, other (left) covers 2-5 and
    # is in front at 2-3, so the right hand is hidden at 2-3
    r_amodal = np.array([[1, 1, 1, 1, 0, 0]], np.uint8)
    l_amodal = np.array([[0, 0, 1, 1, 1, 1]], np.uint8)
    rl_visible = np.array([[1, 1, 2, 2, 2, 2]], np.uint8)
    img = np.arange(18, dtype=np.uint8).reshape(1, 6, 3)
    return dict(img=img, gt_img=img + 100, r_amodal=r_amodal,
                l_amodal=l_amodal, rl_visible=rl_visible,
                hand_type=hand_type, flip=flip)


def test_mask_algebra_right_target():
    out = TDRMaskAlgebra()(_sample())
    a_t, v_t, a_o, v_o = out['hand_masks']
    np.testing.assert_array_equal(a_t, [[1, 1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(v_t, [[1, 1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(a_o, [[0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(v_o, [[0, 0, 1, 1, 1, 1]])
    m = out['tdr_masks']
    # hidden target part H_t = A_t (1 - V_t): columns 2-3
    np.testing.assert_array_equal(m['hidden_t'], [[0, 0, 1, 1, 0, 0]])
    np.testing.assert_array_equal(m['keep_t'], [[1, 1, 0, 0, 1, 1]])
    # other hand outside the target H_o = (1 - A_t) A_o: columns 4-5
    np.testing.assert_array_equal(m['hidden_o'], [[0, 0, 0, 0, 1, 1]])
    np.testing.assert_array_equal(m['keep_o'], [[1, 1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(m['modal_t'], [[1, 1, 0, 0, 0, 0]])
    # M_o = (1 - A_t)(1 - A_o): no column is free of both hands
    np.testing.assert_array_equal(m['modal_o'], [[0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(m['repaint'], [[0, 0, 1, 1, 1, 1]])
    assert out['hand_masks'].dtype == np.uint8


def test_mask_algebra_left_target_unmirrored():
    """Without mirroring, a left target reads the 'l' masks and label 2."""
    out = TDRMaskAlgebra()(_sample('left'))
    a_t, v_t, a_o, v_o = out['hand_masks']
    np.testing.assert_array_equal(a_t, [[0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(v_t, [[0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(a_o, [[1, 1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(v_o, [[1, 1, 0, 0, 0, 0]])
    # the left hand is fully visible: nothing to de-occlude
    assert not out['tdr_masks']['hidden_t'].any()
    np.testing.assert_array_equal(out['tdr_masks']['hidden_o'],
                                  [[1, 1, 0, 0, 0, 0]])


def test_mirror_swaps_sides_and_labels():
    s = MirrorToRight()(_sample('left'))
    assert s['flip'] is True and s['hand_type'] == 'left'
    # flipped left-right, and r/l exchanged
    np.testing.assert_array_equal(s['r_amodal'], [[1, 1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(s['l_amodal'], [[0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(s['rl_visible'], [[1, 1, 1, 1, 2, 2]])
    np.testing.assert_array_equal(s['img'][0, 0], [15, 16, 17])
    np.testing.assert_array_equal(s['gt_img'][0, 0], [115, 116, 117])
    # the mirrored left target is now the right one
    out = TDRMaskAlgebra()(s)
    ref = TDRMaskAlgebra()(_sample('left'))
    np.testing.assert_array_equal(out['hand_masks'],
                                  ref['hand_masks'][:, :, ::-1])
    # right samples and already mirrored samples are untouched
    r = MirrorToRight()(_sample('right'))
    assert r['flip'] is False
    np.testing.assert_array_equal(r['rl_visible'], [[1, 1, 2, 2, 2, 2]])
    done = MirrorToRight()(_sample('left', flip=True))
    np.testing.assert_array_equal(done['rl_visible'], [[1, 1, 2, 2, 2, 2]])


def test_mirror_keypoints():
    s = _sample('left')
    s['keypoints'] = np.array([[[0.0, 0.0], [5.0, 0.0], [2.5, 0.0]]])
    out = MirrorToRight()(s)
    np.testing.assert_allclose(out['keypoints'][0, :, 0], [5.0, 0.0, 2.5])
