import numpy as np

from hdr_mm.datasets.transforms import TDRMaskAlgebra


def test_mask_algebra_right_target(aih_strip):
    out = TDRMaskAlgebra()(aih_strip())
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


def test_mask_algebra_left_target_unmirrored(aih_strip):
    """Without mirroring, a left target reads the 'l' masks and label 2."""
    out = TDRMaskAlgebra()(aih_strip('left'))
    a_t, v_t, a_o, v_o = out['hand_masks']
    np.testing.assert_array_equal(a_t, [[0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(v_t, [[0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(a_o, [[1, 1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(v_o, [[1, 1, 0, 0, 0, 0]])
    # the left hand is fully visible: nothing to de-occlude
    assert not out['tdr_masks']['hidden_t'].any()
    np.testing.assert_array_equal(out['tdr_masks']['hidden_o'],
                                  [[1, 1, 0, 0, 0, 0]])
