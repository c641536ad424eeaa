"""The batch of per-hand crops: its rows, where each hand is cut and how
per-hand images are cut alike."""
import numpy as np
import pytest
import torch

from hdr_mm.structures import HAND_MASK_NAMES
from hdr_mm.structures.hand_crops import (centre_window, cut_hand_pairs,
                                          cut_hands, frame_rows,
                                          hand_crop_size, locate_hands,
                                          stack_frame_rows,
                                          target_hand_masks)


def test_rows_of_the_batch():
    n = 3
    batch = torch.arange(2 * n * 2).view(2 * n, 2)
    per_frame = [batch[frame_rows(i, n)] for i in range(n)]
    assert frame_rows(1, 3) == [1, 4]
    assert stack_frame_rows(per_frame).equal(batch)


def test_target_hand_masks():
    """[A_t, V_t, A_o, V_o]: the right hand's rows first."""
    masks = torch.arange(4.).view(1, 4, 1, 1).expand(2, 4, 3, 3)
    out = target_hand_masks(masks, HAND_MASK_NAMES)  # l_a, l_v, r_a, r_v
    assert out.shape == (4, 4, 3, 3)
    assert out[:2, :, 0, 0].tolist() == [[2, 3, 0, 1]] * 2
    assert out[2:, :, 0, 0].tolist() == [[0, 1, 2, 3]] * 2


def test_locate_hands():
    """A 32 px two-hand crop equal to the image, an 8x8 right hand and a
    one-pixel (absent) left hand."""
    masks = torch.zeros(1, 4, 32, 32)
    masks[0, HAND_MASK_NAMES.index('r_amodal'), 4:12, 6:14] = 1
    masks[0, HAND_MASK_NAMES.index('l_amodal'), 20, 20] = 1
    meta = [dict(input_center=np.array([16., 16.]),
                 input_scale=np.array([32., 32.]),
                 context_origin=np.array([10., 20.]))]
    hands = locate_hands(masks, HAND_MASK_NAMES, meta, 16, padding=2.0,
                         min_mask_pixels=16)
    assert hands.present.tolist() == [True, False]
    assert hands.mirrored.tolist() == [False, True]
    np.testing.assert_allclose(hands.boxes,
                               [[5.5, 3.5, 13.5, 11.5], [0, 0, 0, 0]])
    np.testing.assert_allclose(hands.centers, [[9.5, 7.5], [16, 16]])
    np.testing.assert_allclose(hands.sides, [16, 64])  # absent: whole x2
    # the right hand's centre (image) -> context window -> crop centre
    centre = torch.tensor([9.5 - 10, 7.5 - 20, 1.])
    np.testing.assert_allclose(hands.context_to_crop[0] @ centre, [8, 8],
                               atol=1e-5)
    # the two-hand crop's pixels are the image's: the same map, offset
    np.testing.assert_allclose(hands.two_hand_to_crop[0] @ torch.tensor(
        [9.5, 7.5, 1.]), [8, 8], atol=1e-5)
    cut = cut_hands(torch.zeros(1, 3, 40, 50), masks, HAND_MASK_NAMES,
                    hands, 16)
    assert cut['images'].shape == (2, 3, 16, 16)
    assert cut['masks'].shape == (2, 4, 16, 16)
    # the 8 px hand fills the middle half of its 16 px crop (x2 padding)
    assert cut['masks'][0, 0].sum() == 64
    assert cut['masks'][0, 0, 4:12, 4:12].all()


def test_pairs_of_different_sizes_are_cut_alike():
    """Each frame's pair, cut by identity warps, is itself: the zero
    padding of the smaller frame does not show."""
    g = torch.Generator().manual_seed(0)
    big = torch.randint(0, 256, (6, 12, 10), generator=g, dtype=torch.uint8)
    small = torch.randint(0, 256, (6, 8, 8), generator=g, dtype=torch.uint8)
    warps = torch.eye(2, 3).repeat(4, 1, 1)
    out = cut_hand_pairs([big, small], warps, 8)
    assert out.shape == (4, 3, 8, 8) and out.dtype == torch.float32
    for row, (img, half) in enumerate([(big, 0), (small, 0), (big, 1),
                                       (small, 1)]):
        np.testing.assert_allclose(out[row],
                                   img[3 * half:3 * half + 3, :8, :8],
                                   atol=1e-3)


def test_hand_crop_size_and_centre_window():
    """A 96 px SHPE at padding 1.5 inside crops cut at 2.0: 128 px crops,
    the window is their middle 96 px and covers 3/4 of their side."""
    assert hand_crop_size(96, 2.0, 1.5) == 128
    assert hand_crop_size(96, 2.0, 2.0) == 96
    assert hand_crop_size(64, 2.0, 1.0) == 128
    with pytest.raises(ValueError, match='whole number'):
        hand_crop_size(96, 2.0, 1.3)  # 147.7 px
    with pytest.raises(ValueError, match='even margin'):
        hand_crop_size(95, 2.0, 1.9)  # 100 px around 95
    with pytest.raises(ValueError, match=r'in \(0, hand_padding=2.0\]'):
        hand_crop_size(96, 2.0, 2.5)
    crops = torch.arange(2 * 8 * 8.).view(2, 1, 8, 8)
    window, sides = centre_window(crops, torch.tensor([40., 80.]), 6)
    assert window.equal(crops[..., 1:7, 1:7])
    np.testing.assert_allclose(sides, [30, 60])
    same, s2 = centre_window(crops, torch.tensor([40., 80.]), 8)
    assert same is crops and s2.tolist() == [40, 80]
    with pytest.raises(ValueError, match='centred'):
        centre_window(crops, torch.ones(2), 5)
