import numpy as np
import torch

from hdr_mm.structures import swap_rl_visible, tdr_masks


def _masks():
    # 1x5 strip: target amodal covers 0-2, target visible 0-1, other hand
    # amodal covers 2-3 (it hides pixel 2 of the target).
    a_t = np.array([1, 1, 1, 0, 0])
    v_t = np.array([1, 1, 0, 0, 0])
    a_o = np.array([0, 0, 1, 1, 0])
    v_o = np.array([0, 0, 1, 1, 0])
    return a_t, v_t, a_o, v_o


def test_mask_algebra_on_hand_made_masks():
    m = tdr_masks(*_masks())
    np.testing.assert_array_equal(m['hidden_t'], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(m['keep_t'], [1, 1, 0, 1, 1])
    # the other hand is removed only outside the target's amodal mask
    np.testing.assert_array_equal(m['hidden_o'], [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(m['keep_o'], [1, 1, 1, 0, 1])
    np.testing.assert_array_equal(m['modal_t'], [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(m['modal_o'], [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(m['repaint'], [0, 0, 1, 1, 0])


def test_mask_algebra_numpy_and_torch_agree():
    np_masks = tdr_masks(*_masks())
    t_masks = tdr_masks(*[torch.as_tensor(m).float() for m in _masks()])
    for k, v in np_masks.items():
        np.testing.assert_array_equal(t_masks[k].numpy(), v)


def test_swap_rl_visible():
    m = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(swap_rl_visible(m), [[0, 2, 1], [1, 2, 0]])
    t = swap_rl_visible(torch.as_tensor(m))
    assert t.tolist() == [[0, 2, 1], [1, 2, 0]]
