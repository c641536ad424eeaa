"""prepare_for_inference and its steps: BatchNorm folding, attention
without weights, memory layout, compilation, idempotence."""
import copy

import pytest
import torch
import torch.nn as nn

from hdr_mm.models.utils import (compile_for_inference, inference_autocast,
                                 model_precision, prepare_for_inference,
                                 skip_attention_weights)
from hdr_mm.models.utils.precision import is_kept_fp32


def test_prepare_fp32_equals_eager_and_is_idempotent(tiny_stage):
    shpe = tiny_stage('shpe')
    x = torch.randn(2, 3, 96, 96)
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


def test_prepare_bf16_converts_weights_once(tiny_stage):
    shpe = prepare_for_inference(tiny_stage('shpe'), 'bf16')
    assert shpe.backbone.conv1.weight.dtype == torch.bfloat16
    assert shpe.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    for branch in ('heatmap_branch', 'delta_branch', 'location_branch'):
        predict = getattr(shpe.head, branch).predict
        assert predict.weight.dtype == torch.float32
        assert is_kept_fp32(predict)
    assert all(not p.requires_grad for p in shpe.parameters())


def test_skip_attention_weights():
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


def test_compile_targets_and_channels_last_choice(tiny_stage):
    shpe = tiny_stage('shpe')
    assert compile_for_inference(shpe) == 2  # backbone and head
    assert shpe.backbone._compiled_call_impl is not None
    gen = tiny_stage('tdr').generator
    assert compile_for_inference(gen) == 1  # the generator itself
    # the generator keeps the contiguous layout, SHPE goes channels_last
    gen = prepare_for_inference(tiny_stage('tdr').generator, 'fp32')
    conv = gen.encoders[1].pconv.conv.weight
    assert conv.is_contiguous()
    shpe = prepare_for_inference(tiny_stage('shpe'), 'fp32')
    assert shpe.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    # the choice holds inside a whole TDR model too
    tdr = prepare_for_inference(tiny_stage('tdr'), 'fp32')
    assert tdr.generator.encoders[1].pconv.conv.weight.is_contiguous()


def test_prepared_model_deepcopies(tiny_stage):
    shpe = prepare_for_inference(tiny_stage('shpe'), 'bf16')
    twin = copy.deepcopy(shpe)
    predict = twin.head.heatmap_branch.predict
    assert is_kept_fp32(predict)
    assert predict.forward.__self__ is predict
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad(), inference_autocast('bf16'):
        for a, b in zip(twin.head.forward(twin.extract_feat(x)),
                        shpe.head.forward(shpe.extract_feat(x))):
            assert torch.equal(a, b)
