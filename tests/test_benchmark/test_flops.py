"""hdr_mm.benchmark.flops: FLOP counts of small networks and of the tiny
pipeline's stages."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from hdr_mm.benchmark.flops import count_flops, stage_flops


class _Attention(nn.Module):

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


class _NotTraceable(nn.Module):

    def forward(self, x):
        return x.tolist()


def test_count_flops():
    # q (2, 3, 5, 4), k (2, 3, 7, 4), v (2, 3, 7, 6): 6 (batch, head)
    # pairs x 5 queries x 7 keys x (4 score + 6 value) multiply-adds; the
    # softmax inside is element-wise and not counted
    q, k, v = torch.rand(2, 3, 5, 4), torch.rand(2, 3, 7, 4), torch.rand(
        2, 3, 7, 6)
    res = count_flops(_Attention(), (q, k, v))
    assert res == dict(flops=2 * 3 * 5 * 7 * (4 + 6), unsupported={},
                       error=None)
    # a 3x3 conv 2 -> 4 channels on 8x8 (padding 1): 64 outputs x 4
    # channels x 2 x 9 taps; the ReLU after it is element-wise; the
    # max-pool has no formula and is reported
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False),
                        nn.ReLU(), nn.MaxPool2d(2))
    res = count_flops(net, (torch.rand(1, 2, 8, 8), ))
    assert res['flops'] == 64 * 4 * 2 * 9
    assert res['unsupported'] == {'aten::max_pool2d': 1}
    res = count_flops(_NotTraceable(), (torch.rand(2), ))
    assert res['flops'] is None and res['error']


def test_stage_flops(bench_pipeline):
    model, _ = bench_pipeline
    out = stage_flops(model, ['shpe'])
    assert list(out) == ['shpe', 'hdr'] and out['shpe']['flops'] > 0
    assert out['hdr']['flops'] == out['shpe']['flops']
    out = stage_flops(model, ['hdr'])
    assert list(out) == ['hasm', 'shpe', 'tdr', 'hdr']
    assert out['hdr']['flops'] == sum(out[s]['flops']
                                      for s in ('hasm', 'shpe', 'tdr'))
