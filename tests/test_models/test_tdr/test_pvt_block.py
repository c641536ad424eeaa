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
