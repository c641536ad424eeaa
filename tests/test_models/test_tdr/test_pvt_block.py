import torch

from hdr_mm.models.tdr.pvt_block import feature_map, tokens_of


def test_token_map_conversions_match_the_transpose_forms():
    """The NHWC permutes give exactly the values of the plain
    transpose/reshape forms (so weights and outputs are unchanged), and
    undo each other."""
    torch.manual_seed(0)
    n, c, h, w = 2, 5, 3, 4
    tokens = torch.randn(n, h * w, c)
    fmap = feature_map(tokens, (h, w))
    assert fmap.shape == (n, c, h, w)
    assert fmap.equal(tokens.transpose(1, 2).reshape(n, c, h, w))
    back = tokens_of(fmap)
    assert back.shape == (n, h * w, c)
    assert back.equal(tokens)
    other = torch.randn(n, c, h, w)
    assert tokens_of(other).equal(other.flatten(2).transpose(1, 2))
    # token i is pixel (i // w, i % w): row-major over the map
    assert fmap[1, :, 2, 1].equal(tokens[1, 2 * w + 1])


def test_mlp_on_the_map_gives_the_token_form():
    """DWConvMLP runs its Linear layers as 1x1 convs on the map: the
    values of the plain token form (Linear, transpose, depth-wise conv,
    GELU, Linear), with the same parameters."""
    import torch.nn.functional as F

    from hdr_mm.models.tdr.pvt_block import DWConvMLP, pointwise
    torch.manual_seed(0)
    n, c, h, w = 2, 8, 4, 6
    mlp = DWConvMLP(c, 4 * c)
    assert set(mlp.state_dict()) == {
        'fc1.weight', 'fc1.bias', 'dwconv.weight', 'dwconv.bias',
        'fc2.weight', 'fc2.bias'
    }
    tokens = torch.randn(n, h * w, c)
    hid = mlp.fc1(tokens)
    hid = F.conv2d(hid.transpose(1, 2).reshape(n, 4 * c, h, w),
                   mlp.dwconv.weight, mlp.dwconv.bias, padding=1,
                   groups=4 * c)
    ref = mlp.fc2(F.gelu(hid.flatten(2).transpose(1, 2)))
    out = mlp(tokens, (h, w))
    assert out.shape == (n, h * w, c)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    fmap = torch.randn(n, c, h, w)
    torch.testing.assert_close(
        pointwise(fmap, mlp.fc1),
        feature_map(mlp.fc1(tokens_of(fmap)), (h, w)), rtol=1e-5,
        atol=1e-6)
