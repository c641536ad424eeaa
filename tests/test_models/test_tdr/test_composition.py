import cv2
import numpy as np
import pytest
import torch

from hdr_mm.models.tdr import (build_tdr_inputs, check_hand_masks, compose,
                               confine_hidden_to_occluder,
                               dilate, elliptical_kernel)


def _masks():
    """One 8x8 sample: target amodal = left half, target visible = left
    half minus rows 0..1 (hidden by the other hand), other hand amodal
    = rows 0..3 of the right half plus rows 0..1 of the left half."""
    a_t = torch.zeros(8, 8)
    a_t[:, :4] = 1
    v_t = a_t.clone()
    v_t[:2, :4] = 0
    a_o = torch.zeros(8, 8)
    a_o[:4, 4:] = 1
    a_o[:2, :4] = 1
    v_o = a_o.clone()
    return torch.stack([a_t, v_t, a_o, v_o])[None]


def test_build_inputs_channels():
    hm = _masks()
    img = torch.randn(1, 3, 8, 8)
    x, m, algebra = build_tdr_inputs(img, hm)
    assert x.shape == (1, 8, 8, 8) and m.shape == (1, 8, 8, 8)
    h_t = torch.zeros(8, 8)
    h_t[:2, :4] = 1
    h_o = torch.zeros(8, 8)
    h_o[:4, 4:] = 1
    assert torch.equal(algebra['hidden_t'][0, 0], h_t)
    assert torch.equal(algebra['hidden_o'][0, 0], h_o)
    # [img*K_t, M_t, img*K_o, M_o]
    assert torch.equal(x[0, :3], img[0] * (1 - h_t))
    assert torch.equal(x[0, 3], hm[0, 1])
    assert torch.equal(x[0, 4:7], img[0] * (1 - h_o))
    assert torch.equal(x[0, 7], (1 - hm[0, 0]) * (1 - hm[0, 2]))
    # [K_t x4, K_o x4]
    assert all(torch.equal(m[0, i], 1 - h_t) for i in range(4))
    assert all(torch.equal(m[0, i], 1 - h_o) for i in range(4, 8))


def test_compose_rule_without_dilation():
    hm = _masks()
    img, out = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    _, _, algebra = build_tdr_inputs(img, hm)
    r = algebra['repaint']
    comp = compose(out, img, r)
    inside = r[0, 0].bool()
    assert torch.equal(comp[0][:, inside], out[0][:, inside])
    assert torch.equal(comp[0][:, ~inside], img[0][:, ~inside])


def test_dilation_matches_opencv():
    rng = np.random.default_rng(0)
    masks = (rng.random((3, 40, 33)) > 0.97).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    ref = np.stack([cv2.dilate(m, kernel) for m in masks])
    got = dilate(torch.from_numpy(masks)[:, None].float(), 9)[:, 0]
    assert np.array_equal(got.numpy().astype(np.uint8), ref)
    assert elliptical_kernel(9).shape == (1, 1, 9, 9)
    with pytest.raises(ValueError, match='odd'):
        elliptical_kernel(8)


def test_compose_dilated_and_empty_region():
    img, out = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    r = torch.zeros(2, 1, 16, 16)
    # all-zero repaint region: input unchanged, even with dilation
    assert torch.equal(compose(out, img, r, 9), img)
    r[0, 0, 8, 8] = 1
    comp = compose(out, img, r, 9)
    region = dilate(r, 9)[:, 0].bool()
    assert int(region[0].sum()) == int(elliptical_kernel(9).sum())
    assert torch.equal(comp[0][:, region[0]], out[0][:, region[0]])
    assert torch.equal(comp[0][:, ~region[0]], img[0][:, ~region[0]])
    assert torch.equal(comp[1], img[1])
    with pytest.raises(ValueError, match='does not fit'):
        compose(out, img, r[:, :, :8])


def test_bad_masks():
    img = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match=r'expected \(1, 4, 8, 8\)'):
        check_hand_masks(torch.zeros(1, 3, 8, 8), img)
    with pytest.raises(ValueError, match='only 0 and 1'):
        check_hand_masks(torch.full((1, 4, 8, 8), 2, dtype=torch.uint8),
                         img)
    with pytest.raises(TypeError, match='dtype'):
        check_hand_masks(torch.zeros(1, 4, 8, 8, dtype=torch.complex64),
                         img)
    with pytest.raises(TypeError, match='torch.Tensor'):
        check_hand_masks(np.zeros((1, 4, 8, 8)), img)
    check_hand_masks(torch.ones(1, 4, 8, 8, dtype=torch.bool), img)


def test_confine_hidden_to_occluder():
    # target hand: columns 2-9; HASM calls columns 2-3 hidden (no other
    # hand near: its own edge) and columns 8-9 hidden under the other
    # hand, whose visible mask is columns 9-13
    masks = torch.zeros(1, 4, 12, 16, dtype=torch.uint8)
    masks[0, 0, :, 2:10] = 1
    masks[0, 1, :, 4:8] = 1
    masks[0, 2, :, 8:14] = 1
    masks[0, 3, :, 9:14] = 1
    out = confine_hidden_to_occluder(masks, margin=1)
    assert out.dtype == masks.dtype
    # only the amodal target's visible mask changes
    assert torch.equal(out[:, [0, 2, 3]], masks[:, [0, 2, 3]])
    hidden = out[0, 0] * (1 - out[0, 1])
    # columns 8-9 are within 1 px of V_o: still hidden; 2-3 are not
    assert hidden[:, 8:10].all() and not hidden[:, :8].any()
    # margin 0: only where V_o itself lies (column 9)
    hidden0 = (lambda m: m[0, 0] * (1 - m[0, 1]))(
        confine_hidden_to_occluder(masks, margin=0))
    assert hidden0[:, 9].all() and hidden0.sum() == 12
    # no other hand: nothing of the target is hidden
    alone = masks.clone()
    alone[:, 2:] = 0
    out = confine_hidden_to_occluder(alone, margin=5)
    assert torch.equal(out[0, 1], out[0, 0])
    with pytest.raises(ValueError, match='margin'):
        confine_hidden_to_occluder(masks, margin=-1)
    with pytest.raises(ValueError, match='only 0 and 1'):
        confine_hidden_to_occluder(masks * 2, margin=1)
