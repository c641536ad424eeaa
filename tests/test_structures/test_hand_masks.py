import numpy as np
import pytest
import torch

from hdr_mm.structures import (HAND_MASK_NAMES, drop_duplicate_hand,
                               hidden_fractions,
                               swap_rl_visible, tdr_masks)


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


def _two_hand_masks(right_box, left_box, right_seen=None, left_seen=None):
    """(1, 4, 20, 20) masks in HAND_MASK_NAMES order from boxes
    (y0, y1, x0, x1); a hand's visible mask is its amodal box unless
    given."""
    masks = torch.zeros(1, 4, 20, 20)
    idx = {n: i for i, n in enumerate(HAND_MASK_NAMES)}
    for side, box, seen in (('r', right_box, right_seen),
                            ('l', left_box, left_seen)):
        if box is None:
            continue
        y0, y1, x0, x1 = box
        masks[0, idx[f'{side}_amodal'], y0:y1, x0:x1] = 1
        y0, y1, x0, x1 = seen or box
        masks[0, idx[f'{side}_visible'], y0:y1, x0:x1] = 1
    return masks, idx


def test_duplicate_hand_dropped_on_the_less_visible_side():
    # a lone hand predicted on both sides: the left copy (4x4 inside the
    # right's 10x10, 16 of its 16 pixels shared) is seen less -> cleared
    masks, idx = _two_hand_masks((0, 10, 0, 10), (2, 6, 2, 6))
    out = drop_duplicate_hand(masks, HAND_MASK_NAMES, 0.85)
    assert torch.equal(out[0, idx['r_amodal']], masks[0, idx['r_amodal']])
    assert torch.equal(out[0, idx['r_visible']], masks[0, idx['r_visible']])
    assert not out[0, idx['l_amodal']].any()
    assert not out[0, idx['l_visible']].any()
    # the right copy seen less (3 visible pixels): the right side goes
    masks, idx = _two_hand_masks((0, 10, 0, 10), (2, 6, 2, 6),
                                 right_seen=(0, 1, 0, 3))
    out = drop_duplicate_hand(masks, HAND_MASK_NAMES, 0.85)
    assert not out[0, idx['r_amodal']].any()
    assert torch.equal(out[0, idx['l_amodal']], masks[0, idx['l_amodal']])


def test_overlapping_hands_below_the_share_are_both_kept():
    # two hands, the left's 4x10 box half inside the right's (20 of 40
    # pixels): an occlusion, not a duplicate
    masks, idx = _two_hand_masks((0, 10, 0, 10), (6, 10, 5, 15))
    out = drop_duplicate_hand(masks, HAND_MASK_NAMES, 0.85)
    assert torch.equal(out, masks)
    # at exactly the share the hands are kept too (more than the share
    # is a duplicate): 20/40 shared with max_overlap 0.5
    assert torch.equal(drop_duplicate_hand(masks, HAND_MASK_NAMES, 0.5),
                       masks)
    assert not drop_duplicate_hand(masks, HAND_MASK_NAMES,
                                   0.45)[0, idx['l_amodal']].any()
    # a lone hand (other side empty) is left alone
    lone, _ = _two_hand_masks((0, 10, 0, 10), None)
    assert torch.equal(drop_duplicate_hand(lone, HAND_MASK_NAMES, 0.1),
                       lone)


def test_duplicate_share_is_checked():
    masks, _ = _two_hand_masks((0, 10, 0, 10), None)
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match='max_overlap'):
            drop_duplicate_hand(masks, HAND_MASK_NAMES, bad)


def test_hidden_fractions_per_side():
    names = HAND_MASK_NAMES
    idx = {n: i for i, n in enumerate(names)}
    masks = torch.zeros(2, 4, 8, 8)
    # frame 0: right hand 16 px, all visible; left hand 20 px, 5 visible
    masks[0, idx['r_amodal'], :2] = 1
    masks[0, idx['r_visible'], :2] = 1
    masks[0, idx['l_amodal'], 3:5, :] = 1
    masks[0, idx['l_amodal'], 5, :4] = 1
    masks[0, idx['l_visible'], 5, :4] = 1
    masks[0, idx['l_visible'], 4, 0] = 1
    # frame 1: no hands at all
    got = hidden_fractions(masks, names)
    torch.testing.assert_close(got, torch.tensor([[0., 15 / 20], [0., 0.]]))
