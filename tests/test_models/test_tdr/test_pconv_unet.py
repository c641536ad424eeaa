import json
import math
import os.path as osp

import pytest
import torch

from hdr_mm.models.tdr import InpaintDiscriminator, PConvUNet

MANIFEST = osp.join(osp.dirname(__file__), '..', '..', 'data', 'reference',
                    'hdr_state_dict_manifest.json')

SMALL = dict(enc_channels=(8, 16, 32, 32, 32),
             enc_kernels=(7, 5, 5, 3, 3),
             transformers=dict(enc3=dict(num_heads=2, mlp_ratio=2,
                                         sr_ratio=2),
                               dec3=dict(num_heads=1, mlp_ratio=2,
                                         sr_ratio=2, depth=2)))


@pytest.mark.parametrize('hw', [(64, 64), (128, 96)])
def test_small_unet_shapes(hw):
    torch.manual_seed(0)
    net = PConvUNet(**SMALL)
    net.init_weights()
    x = torch.randn(2, 8, *hw)
    mask = (torch.rand(2, 1, *hw) > 0.3).float().expand(-1, 8, -1, -1)
    out, out_mask = net(x, mask)
    assert out.shape == (2, 3, *hw)
    assert out_mask.shape == (2, 3, *hw)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize('hw', [(256, 256), (512, 256)])
def test_paper_unet_shapes(hw):
    net = PConvUNet().eval()
    with torch.no_grad():
        out, _ = net(torch.randn(1, 8, *hw), torch.ones(1, 8, *hw))
    assert out.shape == (1, 3, *hw)


def test_paper_sizes_match_manifest():
    """75.1 M reference values = our 42.2 M + the all-ones mask_conv
    kernels we do not store; the discriminator's 2.8 M include conv1
    saved twice (as features.0)."""
    with open(MANIFEST) as f:
        man = json.load(f)
    gen = man['tdr_generator']
    total = sum(math.prod(s) for s in gen.values())
    mask_conv = sum(math.prod(s) for k, s in gen.items() if 'mask_conv' in k)
    assert round(total / 1e6, 1) == 75.1
    ours = sum(v.numel() for v in PConvUNet().state_dict().values())
    assert ours == total - mask_conv
    disc = man['tdr_discriminator']
    dtotal = sum(math.prod(s) for s in disc.values())
    twin = sum(math.prod(s) for k, s in disc.items() if k.startswith('feat'))
    assert round(dtotal / 1e6, 1) == 2.8
    d_ours = sum(v.numel() for v in InpaintDiscriminator().state_dict()
                 .values())
    assert d_ours == dtotal - twin


def test_bad_sizes():
    net = PConvUNet(**SMALL)
    with pytest.raises(ValueError, match='divisible by 32'):
        net(torch.zeros(1, 8, 48, 64), torch.ones(1, 8, 48, 64))
    with pytest.raises(ValueError, match='expects'):
        net(torch.zeros(1, 3, 64, 64), torch.ones(1, 3, 64, 64))
    with pytest.raises(ValueError, match='transformer position'):
        PConvUNet(**dict(SMALL, transformers=dict(dec1=dict(num_heads=1))))
