"""MirrorToRight: a left-target AIH sample as a right-target one."""
import numpy as np

from hdr_mm.datasets.transforms import MirrorToRight, TDRMaskAlgebra


def test_mirror_swaps_sides_and_labels(aih_strip):
    s = MirrorToRight()(aih_strip('left'))
    assert s['flip'] is True and s['hand_type'] == 'left'
    # flipped left-right, and r/l exchanged
    np.testing.assert_array_equal(s['r_amodal'], [[1, 1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(s['l_amodal'], [[0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(s['rl_visible'], [[1, 1, 1, 1, 2, 2]])
    np.testing.assert_array_equal(s['img'][0, 0], [15, 16, 17])
    np.testing.assert_array_equal(s['gt_img'][0, 0], [115, 116, 117])
    # the mirrored left target is now the right one
    out = TDRMaskAlgebra()(s)
    ref = TDRMaskAlgebra()(aih_strip('left'))
    np.testing.assert_array_equal(out['hand_masks'],
                                  ref['hand_masks'][:, :, ::-1])
    # right samples and already mirrored samples are untouched
    r = MirrorToRight()(aih_strip('right'))
    assert r['flip'] is False
    np.testing.assert_array_equal(r['rl_visible'], [[1, 1, 2, 2, 2, 2]])
    done = MirrorToRight()(aih_strip('left', flip=True))
    np.testing.assert_array_equal(done['rl_visible'], [[1, 1, 2, 2, 2, 2]])


def test_mirror_keypoints(aih_strip):
    s = aih_strip('left')
    s['keypoints'] = np.array([[[0.0, 0.0], [5.0, 0.0], [2.5, 0.0]]])
    out = MirrorToRight()(s)
    np.testing.assert_allclose(out['keypoints'][0, :, 0], [5.0, 0.0, 2.5])
