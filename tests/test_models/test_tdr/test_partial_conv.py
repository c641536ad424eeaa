import pytest
import torch
import torch.nn.functional as F

from hdr_mm.models.tdr import PartialConv2d, PartialConvBlock


def _ones_conv(bias=0.0, cin=1, cout=1, k=3):
    pc = PartialConv2d(cin, cout, k, stride=1, padding=k // 2,
                       bias=bias != 0.0)
    with torch.no_grad():
        pc.conv.weight.fill_(1.0)
        if bias:
            pc.conv.bias.fill_(bias)
    return pc


def test_renormalised_by_coverage_and_zero_in_holes():
    # 5x5 map, only the top-left 2x2 block valid
    mask = torch.zeros(1, 1, 5, 5)
    mask[..., :2, :2] = 1
    x = torch.full((1, 1, 5, 5), 2.0)
    x[..., 2:, :] = 100.0  # values under the hole must not matter
    out, new_mask = _ones_conv(bias=0.5)(x, mask)
    # every window touching the valid block sees only 2s: (sum 2*n)/n + b
    expected_mask = torch.zeros(5, 5)
    expected_mask[:3, :3] = 1
    assert torch.equal(new_mask[0, 0], expected_mask)
    assert torch.allclose(out[0, 0][expected_mask.bool()],
                          torch.tensor(2.5))
    # windows without a valid pixel: output 0 (bias included)
    assert torch.all(out[0, 0][~expected_mask.bool()] == 0)


def test_coverage_is_raw_count_over_channels_and_taps():
    # the reference divides by sum(M), not by window_size / sum(M)
    torch.manual_seed(0)
    pc = PartialConv2d(2, 3, 3, 1, 1, bias=True)
    x = torch.randn(1, 2, 4, 4)
    mask = torch.zeros(1, 2, 4, 4)
    mask[0, 0, 1, 1] = 1
    mask[0, 1, 1:3, 1] = 1  # 3 valid entries around (1, 1)
    out, new_mask = pc(x, mask)
    raw = F.conv2d(x * mask, pc.conv.weight, None, 1, 1)
    assert torch.allclose(out[0, :, 1, 1],
                          raw[0, :, 1, 1] / 3 + pc.conv.bias, atol=1e-6)
    # the window of (3, 3) spans rows and columns 2..4: no valid entry
    assert new_mask[0, 0, 3, 3] == 0 and torch.all(out[0, :, 3, 3] == 0)
    assert new_mask.shape == (1, 3, 4, 4)
    # new mask identical on every output channel
    assert torch.equal(new_mask[:, :1].expand_as(new_mask), new_mask)


def test_full_mask_equals_scaled_conv():
    torch.manual_seed(1)
    pc = PartialConv2d(3, 4, 3, stride=2, padding=1)
    x = torch.randn(2, 3, 8, 8)
    out, m = pc(x, torch.ones_like(x))
    cov = F.conv2d(torch.ones(1, 1, 8, 8) * 3, torch.ones(1, 1, 3, 3),
                   stride=2, padding=1)  # 27 inside, fewer at borders
    ref = F.conv2d(x, pc.conv.weight, None, 2, 1) / cov
    assert torch.allclose(out, ref, atol=1e-6)
    assert torch.all(m == 1)


def test_window_renorm_is_an_ordinary_conv_on_full_windows():
    torch.manual_seed(2)
    pc = PartialConv2d(3, 4, 3, stride=1, padding=1, bias=True,
                       renorm='window')
    x = torch.randn(1, 3, 6, 6)
    mask = torch.ones_like(x)
    mask[..., 0, 0] = 0
    out, _ = pc(x, mask)
    ref = F.conv2d(x, pc.conv.weight, pc.conv.bias, 1, 1)
    # interior windows: all 27 entries valid -> plain convolution
    assert torch.allclose(out[..., 2:5, 2:5], ref[..., 2:5, 2:5], atol=1e-5)
    # (1, 1) misses pixel (0, 0) on 3 channels: scaled by 27 / 24
    raw = F.conv2d(x * mask, pc.conv.weight, None, 1, 1)
    assert torch.allclose(out[0, :, 1, 1],
                          raw[0, :, 1, 1] * 27 / 24 + pc.conv.bias,
                          atol=1e-5)
    with pytest.raises(ValueError, match='renorm'):
        PartialConv2d(3, 4, 3, renorm='ratio')


def test_gradient_only_through_valid_pixels():
    pc = _ones_conv()
    x = torch.randn(1, 1, 5, 5, requires_grad=True)
    mask = torch.ones(1, 1, 5, 5)
    mask[..., 2, 2] = 0
    out, _ = pc(x, mask)
    out.sum().backward()
    assert x.grad[0, 0, 2, 2] == 0
    assert torch.all(x.grad[0, 0][mask[0, 0].bool()] != 0)


def test_shape_errors():
    pc = PartialConv2d(2, 2, 3, 1, 1)
    with pytest.raises(ValueError, match='same shape'):
        pc(torch.zeros(1, 2, 4, 4), torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match='input channels'):
        pc(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match='act must be'):
        PartialConvBlock(2, 2, 3, act='gelu')
