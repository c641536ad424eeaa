"""The inference-precision helpers, and the bf16 path of each tiny stage
network against its fp32 result.

bf16 keeps 8 significant bits: every rounding is within 2^-9 (0.2%)
relative, and the errors of a few dozen layers add up; measured on these
random-weight networks, the largest difference is 0.4-1% of each map's
range. The tolerance is 2% of the range; what is read out (HASM masks,
SHPE joints) is compared as such.
"""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

from hdr_mm.models.hdr.stage_builder import build_stage
from hdr_mm.models.tdr.partial_conv import PartialConv2d
from hdr_mm.models.utils import (fp32_region, inference_autocast,
                                 keep_fp32, model_precision,
                                 prepare_for_inference)
from hdr_mm.models.utils.precision import (check_precision, cpu_bf16_isa,
                                           is_kept_fp32,
                                           mark_fp32_submodules)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
TINY = dict(
    hasm='configs/hasm/hasm_segformer_mit-b0_1xb8-1k_synthetic-128x128.py',
    tdr='configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py',
    shpe='configs/shpe/shpe_detnet-tiny_b16-adam_synthetic-128x128.py')


def build(name):
    init_default_scope('mmpose')
    torch.manual_seed(0)
    return build_stage(name, osp.join(ROOT, TINY[name]))


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


def test_prepare_fp32_equals_eager_and_is_idempotent():
    shpe = build('shpe')
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        ref = shpe.head.forward(shpe.extract_feat(x))
        prepare_for_inference(shpe, 'fp32')
        assert model_precision(shpe) == 'fp32'
        assert prepare_for_inference(shpe, 'fp32') is shpe
        out = shpe.head.forward(shpe.extract_feat(x))
    # BatchNorms folded into the convolutions
    assert not any(isinstance(m, nn.BatchNorm2d) for m in shpe.modules())
    for a, b in zip(out, ref):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    with pytest.raises(RuntimeError, match='already prepared for fp32'):
        prepare_for_inference(shpe, 'bf16')


def test_prepare_bf16_converts_weights_once():
    shpe = prepare_for_inference(build('shpe'), 'bf16')
    assert shpe.backbone.conv1.weight.dtype == torch.bfloat16
    assert shpe.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    for branch in ('heatmap_branch', 'delta_branch', 'location_branch'):
        predict = getattr(shpe.head, branch).predict
        assert predict.weight.dtype == torch.float32
        assert is_kept_fp32(predict)
    assert all(not p.requires_grad for p in shpe.parameters())


def test_shpe_bf16_maps_and_joints():
    from mmpose.structures import PoseDataSample
    fp32, bf16 = build('shpe'), build('shpe')
    prepare_for_inference(fp32, 'fp32')
    prepare_for_inference(bf16, 'bf16')
    torch.manual_seed(1)
    x = torch.randn(4, 3, 128, 128)
    samples = [PoseDataSample(metainfo=dict(input_size=(128, 128)))
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
    # random weights give flat heat maps with near-ties (measured: 96-98%
    # of the joints on the same pixel over 3 seeds); trained ones have
    # sharp maxima
    assert np.mean(np.all(kp == kp_ref, axis=-1)) >= 0.9


def test_tdr_generator_bf16():
    fp32, bf16 = build('tdr').generator, build('tdr').generator
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


def test_hasm_bf16_masks():
    fp32, bf16 = build('hasm'), build('hasm')
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


def test_skip_attention_weights():
    from hdr_mm.models.utils import skip_attention_weights
    attn = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    q, kv = torch.randn(1, 5, 8), torch.randn(1, 3, 8)
    with torch.no_grad():
        ref, weights = attn(q, kv, kv)
        assert weights is not None
        assert skip_attention_weights(nn.Sequential(attn)) == 1
        out, none = attn(q, kv, kv)
        assert none is None
        assert torch.allclose(out, ref, atol=1e-6)
        # an explicit request still gets them
        assert attn(q, kv, kv, need_weights=True)[1] is not None


def test_compile_targets_and_channels_last_choice():
    from hdr_mm.models.utils import compile_for_inference
    shpe = build('shpe')
    assert compile_for_inference(shpe) == 2  # backbone and head
    assert shpe.backbone._compiled_call_impl is not None
    gen = build('tdr').generator
    assert compile_for_inference(gen) == 1  # the generator itself
    # the generator keeps the contiguous layout, SHPE goes channels_last
    gen = prepare_for_inference(build('tdr').generator, 'fp32')
    conv = gen.encoders[1].pconv.conv.weight
    assert conv.is_contiguous()
    shpe = prepare_for_inference(build('shpe'), 'fp32')
    assert shpe.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    # the choice holds inside a whole TDR model too
    tdr = prepare_for_inference(build('tdr'), 'fp32')
    assert tdr.generator.encoders[1].pconv.conv.weight.is_contiguous()


def test_prepared_model_deepcopies():
    import copy
    shpe = prepare_for_inference(build('shpe'), 'bf16')
    twin = copy.deepcopy(shpe)
    predict = twin.head.heatmap_branch.predict
    assert is_kept_fp32(predict)
    assert predict.forward.__self__ is predict
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad(), inference_autocast('bf16'):
        for a, b in zip(twin.head.forward(twin.extract_feat(x)),
                        shpe.head.forward(shpe.extract_feat(x))):
            assert torch.equal(a, b)
