"""HandAmodalSegformerHead: output shapes, per-branch loss, bad targets."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import hdr_mm  # noqa: F401
from hdr_mm.models.hasm import HAND_MASK_NAMES, split_branch_logits

IN_CHANNELS = [8, 16, 24, 32]


def build_head(**kwargs):
    # scope-prefixed types: other tests may leave mmpose as default scope
    cfg = dict(
        type='mmseg.HandAmodalSegformerHead',
        in_channels=IN_CHANNELS,
        in_index=[0, 1, 2, 3],
        channels=16,
        dropout_ratio=0.0,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0))
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def features(n=2, size=32):
    torch.manual_seed(0)
    return [
        torch.randn(n, c, size // 4 // 2**i, size // 4 // 2**i)
        for i, c in enumerate(IN_CHANNELS)
    ]


def samples(gt):
    out = []
    for g in gt:
        ds = SegDataSample()
        ds.gt_sem_seg = PixelData(data=g)
        ds.set_metainfo(dict(img_path='fake.jpg'))
        out.append(ds)
    return out


def test_forward_shapes_and_modules():
    head = build_head()
    out = head(features(n=2, size=32))
    # 4 masks x 2 classes at 1/4 of the input size.
    assert out.shape == (2, 8, 8, 8)
    branches = split_branch_logits(out)
    assert len(branches) == 4 and all(b.shape == (2, 2, 8, 8)
                                      for b in branches)
    assert head.mask_names == HAND_MASK_NAMES
    assert len(head.fusion_convs) == 4 and len(head.conv_segs) == 4
    # the parent's single fusion conv / classifier are gone
    assert not hasattr(head, 'fusion_conv')
    assert not hasattr(head, 'conv_seg')
    # branches are independent modules (no shared parameters)
    ptrs = {p.data_ptr() for m in head.conv_segs for p in m.parameters()}
    assert len(ptrs) == 8


def test_branch_outputs_use_their_own_weights():
    head = build_head().eval()
    feats = features(n=1)
    before = head(feats)
    with torch.no_grad():
        head.conv_segs[2].bias += 5.0  # r_amodal classifier
    after = head(feats)
    changed = (after - before).abs().amax(dim=(0, 2, 3)) > 1e-6
    assert changed.tolist() == [False] * 4 + [True, True] + [False] * 2


def test_loss_per_branch_matches_cross_entropy():
    head = build_head()
    feats = features(n=2, size=32)
    torch.manual_seed(1)
    gt = torch.randint(0, 2, (2, 4, 32, 32))
    gt[0, 1, :4, :4] = 255  # ignored pixels
    losses = head.loss(feats, samples(gt), train_cfg={})
    expected_keys = {f'loss_ce_{n}' for n in HAND_MASK_NAMES} | {
        f'acc_seg_{n}' for n in HAND_MASK_NAMES}
    assert set(losses) == expected_keys

    logits = F.interpolate(
        head(feats), size=(32, 32), mode='bilinear', align_corners=False)
    for k, name in enumerate(HAND_MASK_NAMES):
        ref = F.cross_entropy(
            logits[:, 2 * k:2 * k + 2], gt[:, k], ignore_index=255,
            reduction='none').sum() / gt[:, k].numel()
        # mmseg's CrossEntropyLoss averages over all pixels by default
        # (avg_non_ignore=False), ignored pixels count as 0.
        torch.testing.assert_close(losses[f'loss_ce_{name}'], ref)


def test_dice_term_on_the_hand_class_per_image():
    # the small configs' loss: CE + Dice with ignore_index=0, i.e. the
    # Dice of each branch's hand probability against its mask, per image
    head = build_head(loss_decode=[
        dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0),
        dict(type='mmseg.DiceLoss', use_sigmoid=False, naive_dice=True,
             ignore_index=0, loss_weight=1.0)
    ])
    feats = features(n=2, size=32)
    gt = torch.zeros(2, 4, 32, 32, dtype=torch.long)
    gt[0, :, 8:20, 4:16] = 1
    gt[1, 2:, 16:30, 10:26] = 1  # image 1: no left hand
    losses = head.loss(feats, samples(gt), train_cfg={})
    assert {f'loss_dice_{n}' for n in HAND_MASK_NAMES} <= set(losses)

    logits = F.interpolate(
        head(feats), size=(32, 32), mode='bilinear', align_corners=False)
    eps = 1e-3  # mmseg's default
    for k, name in enumerate(HAND_MASK_NAMES):
        p = logits[:, 2 * k:2 * k + 2].softmax(dim=1)[:, 1].flatten(1)
        g = gt[:, k].flatten(1).float()
        dice = (2 * (p * g).sum(1) + eps) / (p.sum(1) + g.sum(1) + eps)
        torch.testing.assert_close(losses[f'loss_dice_{name}'],
                                   (1 - dice).mean())


def test_branch_loss_only_trains_its_branch():
    head = build_head()
    gt = torch.randint(0, 2, (2, 4, 32, 32))
    losses = head.loss(features(n=2, size=32), samples(gt), train_cfg={})
    losses['loss_ce_l_visible'].backward()
    grads = [
        m.weight.grad is not None and m.weight.grad.abs().sum() > 0
        for m in head.conv_segs
    ]
    assert grads == [False, True, False, False]


def test_bad_targets_and_config():
    head = build_head()
    gt = torch.zeros(2, 3, 32, 32, dtype=torch.long)  # 3 masks, not 4
    with pytest.raises(ValueError, match=r'fake\.jpg.*\(4, H, W\)'):
        head.loss(features(n=2, size=32), samples(gt), train_cfg={})
    with pytest.raises(ValueError, match='num_classes must be 2'):
        build_head(num_classes=3)
    with pytest.raises(ValueError, match='unique'):
        build_head(mask_names=('a', 'a'))


def test_custom_number_of_masks():
    head = build_head(mask_names=('l_amodal', 'r_amodal'))
    assert head(features(n=2)).shape == (2, 4, 8, 8)


def test_losses_float32_under_bf16_autocast():
    """Training under CPUAmpOptimWrapper: bf16 logits, float32 losses."""
    head = build_head(loss_decode=[
        dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0),
        dict(type='mmseg.DiceLoss', use_sigmoid=False, naive_dice=True,
             ignore_index=0, loss_weight=1.0)
    ])
    feats = features(n=2, size=32)
    gt = torch.zeros(2, 4, 32, 32, dtype=torch.long)
    gt[:, :, 8:20, 4:16] = 1
    ref = head.loss(feats, samples(gt), train_cfg={})
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert head(feats).dtype == torch.bfloat16
        losses = head.loss(feats, samples(gt), train_cfg={})
    for name in HAND_MASK_NAMES:
        for key in (f'loss_ce_{name}', f'loss_dice_{name}'):
            assert losses[key].dtype == torch.float32
            torch.testing.assert_close(losses[key], ref[key], rtol=0.05,
                                       atol=1e-3)
