"""The inference-precision helpers, and the bf16 path of each tiny stage
network against its fp32 result.

bf16 keeps 8 significant bits: every rounding is within 2^-9 (0.2%)
relative, and the errors of a few dozen layers add up; measured on these
random-weight networks, the largest difference is 0.4-1% of each map's
range. The tolerance is 2% of the range; what is read out (HASM masks,
SHPE joints) is compared as such.
"""
import numpy as np
import pytest
import torch
import torch.nn as nn

from hdr_mm.models.tdr.partial_conv import PartialConv2d
from hdr_mm.models.utils import (fp32_region, inference_autocast,
                                 keep_fp32, prepare_for_inference)
from hdr_mm.models.utils.precision import (check_precision, cpu_bf16_isa,
                                           is_kept_fp32,
                                           mark_fp32_submodules,
                                           weights_to_bf16)


def rel_err(a, b):
    """max |a - b| relative to the range of b."""
    a, b = a.float(), b.float()
    return float((a - b).abs().max() / (b.max() - b.min()).clamp_min(1e-12))


def test_check_precision_and_isa():
    assert check_precision('bf16') == 'bf16'
    with pytest.raises(ValueError, match='fp32'):
        check_precision('fp16')
    assert cpu_bf16_isa() in ('amx', 'avx512_bf16', 'none')


def test_keep_fp32_under_autocast():
    conv = keep_fp32(nn.Conv2d(3, 4, 1))
    keep_fp32(conv)  # twice is harmless
    plain = nn.Conv2d(3, 4, 1)
    x = torch.randn(1, 3, 5, 5)
    with torch.no_grad(), inference_autocast('bf16'):
        assert plain(x).dtype == torch.bfloat16
        assert conv(x.bfloat16()).dtype == torch.float32
        with fp32_region():
            assert plain(x).dtype == torch.float32
    assert set(conv.state_dict()) == {'weight', 'bias'}


def test_kept_module_casts_feature_tuples():
    """A head called on a backbone's tuple of bf16 features."""
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)

        def forward(self, feats):
            return self.conv(feats[-1])

    head = keep_fp32(Head())
    x = torch.randn(1, 3, 4, 4).bfloat16()
    with torch.no_grad(), inference_autocast('bf16'):
        assert head((x, x)).dtype == torch.float32
        assert head([x]).dtype == torch.float32


def test_mark_fp32_submodules_lists():
    class Net(nn.Module):
        fp32_submodules = ('heads', 'out')

        def __init__(self):
            super().__init__()
            self.body = nn.Conv2d(1, 1, 1)
            self.heads = nn.ModuleList([nn.Conv2d(1, 1, 1)] * 2)
            self.out = nn.Conv2d(1, 1, 1)

    net = Net()
    assert mark_fp32_submodules(net) == 2  # the same conv twice counts once
    assert is_kept_fp32(net.heads[0]) and is_kept_fp32(net.out)
    assert not is_kept_fp32(net.body)


def test_weights_to_bf16_spares_the_fp32_parts():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),
                        keep_fp32(nn.Sequential(nn.Linear(4, 2))),
                        nn.Linear(4, 4))
    assert weights_to_bf16(net, channels_last=True) == 2
    assert net[0].weight.dtype == torch.bfloat16
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert net[0].bias.dtype == torch.float32  # biases stay
    assert net[1].weight.dtype == torch.float32  # normalisation stays
    assert net[2][0].weight.dtype == torch.float32  # inside keep_fp32
    assert net[3].weight.dtype == torch.bfloat16


def test_partial_conv_coverage_exact_in_bf16():
    # 64 channels x 3x3: coverage up to 576, not representable in bf16
    torch.manual_seed(0)
    pconv = PartialConv2d(64, 8, 3, padding=1, bias=True)
    nn.init.normal_(pconv.conv.bias)
    x = torch.randn(2, 64, 12, 12)
    mask = (torch.rand(2, 1, 12, 12) > 0.6).float().expand(-1, 64, -1, -1)
    with torch.no_grad():
        ref, ref_mask = pconv(x, mask)
        with inference_autocast('bf16'):
            out, new_mask = pconv(x, mask)
    assert out.dtype == new_mask.dtype == torch.float32
    assert torch.equal(new_mask, ref_mask)
    assert torch.equal(out == 0, ref == 0)  # the holes, exactly
    assert rel_err(out, ref) < 0.02


def test_shpe_bf16_maps_and_joints(tiny_stage):
    from mmpose.structures import PoseDataSample
    fp32, bf16 = tiny_stage('shpe'), tiny_stage('shpe')
    prepare_for_inference(fp32, 'fp32')
    prepare_for_inference(bf16, 'bf16')
    torch.manual_seed(1)
    x = torch.randn(4, 3, 96, 96)
    samples = [PoseDataSample(metainfo=dict(input_size=(96, 96)))
               for _ in range(4)]
    with torch.no_grad():
        ref = fp32.head.forward(fp32.extract_feat(x))
        with inference_autocast('bf16'):
            out = bf16.head.forward(bf16.extract_feat(x))
            preds = bf16.head.decode_maps(out, samples,
                                          dict(bone_length=95.0))
    assert all(t.dtype == torch.float32 for t in out)
    for a, b in zip(out, ref):
        assert rel_err(a, b) < 0.02
    ref_preds = fp32.head.decode_maps(ref, samples, dict(bone_length=95.0))
    kp = np.concatenate([p.keypoints for p in preds])
    kp_ref = np.concatenate([r.keypoints for r in ref_preds])
    # random weights give flat heat maps with near-ties; trained ones have
    # sharp maxima. The softmax read-out is sub-cell, so compare distances
    # (input pixels of the 96 px crop; a cell is 4 px)
    close = np.linalg.norm(kp - kp_ref, axis=-1) <= 1.0
    assert np.mean(close) >= 0.9


def test_tdr_generator_bf16(tiny_stage):
    fp32, bf16 = tiny_stage('tdr').generator, tiny_stage('tdr').generator
    prepare_for_inference(fp32, 'fp32')
    prepare_for_inference(bf16, 'bf16')
    assert is_kept_fp32(bf16.decoders[0])
    assert bf16.decoders[0].pconv.conv.weight.dtype == torch.float32
    assert bf16.decoders[1].pconv.conv.weight.dtype == torch.bfloat16
    torch.manual_seed(2)
    m = (torch.rand(2, 1, 64, 64) > 0.3).float().expand(-1, 8, -1, -1)
    x = torch.randn(2, 8, 64, 64) * m
    with torch.no_grad():
        ref, ref_mask = fp32(x, m)
        with inference_autocast('bf16'):
            out, out_mask = bf16(x, m)
    assert out.dtype == torch.float32
    assert torch.equal(out_mask, ref_mask)
    assert rel_err(out, ref) < 0.02


def test_hasm_bf16_masks(tiny_stage):
    fp32, bf16 = tiny_stage('hasm'), tiny_stage('hasm')
    prepare_for_inference(fp32, 'fp32')
    prepare_for_inference(bf16, 'bf16')
    torch.manual_seed(3)
    imgs = [torch.randint(0, 256, (3, 128, 128), dtype=torch.uint8)
            for _ in range(2)]
    x = fp32.data_preprocessor(dict(inputs=imgs), False)['inputs']
    metas = [dict(img_shape=(128, 128), pad_shape=(128, 128))] * 2
    with torch.no_grad():
        ref = fp32.encode_decode(x, metas)
        with inference_autocast('bf16'):
            out = bf16.encode_decode(x, metas)
    assert out.dtype == torch.float32
    assert rel_err(out, ref) < 0.02
    masks = out.view(2, 4, 2, 128, 128).argmax(2)
    ref_masks = ref.view(2, 4, 2, 128, 128).argmax(2)
    assert (masks == ref_masks).float().mean() > 0.99
