import numpy as np

from hdr_mm.structures import (INTERHAND_MIDDLE_MCP, INTERHAND_ROOT,
                               INTERHAND_TO_SHPE, SHPE_MIDDLE_MCP,
                               SHPE_PARENTS, SHPE_ROOT, SHPE_TO_INTERHAND,
                               palm_centre)


def test_orders_are_inverse_permutations():
    ih = np.arange(21)
    assert sorted(INTERHAND_TO_SHPE.tolist()) == list(range(21))
    np.testing.assert_array_equal(ih[INTERHAND_TO_SHPE][SHPE_TO_INTERHAND],
                                  ih)


def test_shpe_order_is_wrist_then_base_to_tip():
    # InterHand: thumb tip..base = 0..3, wrist = 20
    assert INTERHAND_TO_SHPE[0] == 20
    assert INTERHAND_TO_SHPE[1:5].tolist() == [3, 2, 1, 0]  # thumb
    assert INTERHAND_TO_SHPE[17:21].tolist() == [19, 18, 17, 16]  # pinky
    assert INTERHAND_TO_SHPE[SHPE_ROOT] == INTERHAND_ROOT
    assert INTERHAND_TO_SHPE[SHPE_MIDDLE_MCP] == INTERHAND_MIDDLE_MCP


def test_parents_form_five_chains_from_the_wrist():
    assert SHPE_PARENTS[0] == -1
    for finger in range(5):
        base = 1 + 4 * finger
        assert SHPE_PARENTS[base] == 0
        for k in range(1, 4):
            assert SHPE_PARENTS[base + k] == base + k - 1


def test_palm_centre_is_midway_between_wrist_and_middle_mcp():
    joints = np.arange(2 * 21 * 3, dtype=np.float64).reshape(2, 21, 3)
    got = palm_centre(joints)
    assert got.shape == (2, 3)
    np.testing.assert_array_equal(
        got,
        0.5 * (joints[:, INTERHAND_ROOT] + joints[:, INTERHAND_MIDDLE_MCP]))
