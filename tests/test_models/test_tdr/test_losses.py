import pytest
import torch
import torch.nn.functional as F

from hdr_mm.models.tdr import (MaskedL1Loss, NSGANLoss, PerceptualStyleLoss,
                               TotalVariationLoss, gram_matrix)


def test_masked_l1_known_value():
    pred = torch.zeros(1, 3, 2, 2)
    gt = torch.full((1, 3, 2, 2), 2.0)
    mask = torch.tensor([[[[1., 0.], [0., 0.]]]])
    # one pixel of four, |0-2| = 2 on 3 channels -> mean over 12 = 0.5
    assert MaskedL1Loss(6.0)(pred, gt, mask).item() == pytest.approx(3.0)


def test_tv_known_value():
    img = torch.tensor([[[[0., 1.], [2., 3.]]]])
    # horizontal diffs 1, 1 -> 1; vertical 2, 2 -> 2
    assert TotalVariationLoss(0.1)(img).item() == pytest.approx(0.3)
    assert TotalVariationLoss()(torch.ones(1, 3, 5, 5)).item() == 0


def test_gram_known_value():
    f = torch.tensor([[[[1., 2.]], [[3., 4.]]]])  # (1, 2, 1, 2)
    g = gram_matrix(f)
    assert torch.allclose(g, torch.tensor([[[5., 11.], [11., 25.]]]) / 4)


def test_nsgan_known_values():
    p = torch.full((2, 1, 3, 3), 0.25)
    gan = NSGANLoss(loss_weight=0.1)
    assert gan(p, True, is_disc=True).item() == pytest.approx(
        -torch.log(torch.tensor(0.25)).item(), rel=1e-6)
    assert gan(p, False, is_disc=True).item() == pytest.approx(
        -torch.log(torch.tensor(0.75)).item(), rel=1e-6)
    # generator side is weighted
    assert gan(p, True).item() == pytest.approx(
        0.1 * -torch.log(torch.tensor(0.25)).item(), rel=1e-6)
    logits = torch.zeros(1, 1, 2, 2)
    assert NSGANLoss(from_logits=True)(logits, True, True).item() == \
        pytest.approx(torch.log(torch.tensor(2.)).item(), rel=1e-6)


def _vgg_file(tmp_path):
    from torchvision.models import vgg16
    torch.manual_seed(0)
    net = vgg16(weights=None)
    path = str(tmp_path / 'vgg16.pth')
    torch.save(net.state_dict(), path)
    return net, path


def test_perceptual_style_against_direct_computation(tmp_path):
    net, path = _vgg_file(tmp_path)
    loss = PerceptualStyleLoss(path, perceptual_weight=0.1, style_weight=250)
    assert loss.enabled
    # the frozen VGG stays out of the module tree (checkpoints, optimisers)
    assert not list(loss.parameters()) and not loss.state_dict()
    torch.manual_seed(1)
    pred, gt = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    mask = (torch.rand(2, 1, 32, 32) > 0.5).float()
    got = loss(pred, gt, mask)
    net.eval()
    fp, fg, prc, sty = pred * mask, gt * mask, 0., 0.
    for a, b in ((0, 5), (5, 10), (10, 17)):
        fp, fg = net.features[a:b](fp), net.features[a:b](fg)
        prc += F.l1_loss(fp, fg)
        sty += F.l1_loss(gram_matrix(fp), gram_matrix(fg))
    assert got['perceptual'].item() == pytest.approx(0.1 * prc.item(),
                                                     rel=1e-5)
    assert got['style'].item() == pytest.approx(250 * sty.item(), rel=1e-5)
    assert loss(gt, gt, mask)['perceptual'].item() == 0


def test_perceptual_off_and_bad_files(tmp_path):
    loss = PerceptualStyleLoss(None)
    assert not loss.enabled
    assert loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8),
                torch.ones(1, 1, 8, 8)) == {}
    with pytest.raises(FileNotFoundError, match='VGG16 weight file'):
        PerceptualStyleLoss(str(tmp_path / 'missing.pth'))
    bad = str(tmp_path / 'bad.pth')
    torch.save({'foo': torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match='missing'):
        PerceptualStyleLoss(bad)
    trunc = str(tmp_path / 'trunc.pth')
    with open(trunc, 'wb') as f:
        f.write(b'\x80\x02not a checkpoint')
    with pytest.raises(ValueError, match='cannot read'):
        PerceptualStyleLoss(trunc)
