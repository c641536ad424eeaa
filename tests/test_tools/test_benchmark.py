"""Pure helpers of tools/analysis_tools/benchmark.py: argument parsing,
statistics, Markdown tables, FLOP and size counting, synthetic masks.
Nothing here measures or asserts a timing."""
import argparse
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/analysis_tools/benchmark.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('hdr_benchmark', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parse_int_list(bench):
    assert bench.parse_int_list('1,2, 4') == [1, 2, 4]
    for bad in ('', '0,1', 'a', '1,-2'):
        with pytest.raises(argparse.ArgumentTypeError):
            bench.parse_int_list(bad)


def test_parse_stages_keeps_pipeline_order(bench):
    assert bench.parse_stages('hdr,hasm,tdr') == ['hasm', 'tdr', 'hdr']
    with pytest.raises(argparse.ArgumentTypeError, match='hdrm'):
        bench.parse_stages('hasm,hdrm')


def test_summarize(bench):
    # 10, 20, 30, 40 ms for a batch of 2: median 25 ms; the 90th
    # percentile interpolates 0.7 of the way from 30 to 40 ms
    s = bench.summarize([0.040, 0.010, 0.030, 0.020], batch_size=2)
    assert s['median_ms'] == pytest.approx(25.0)
    assert s['p90_ms'] == pytest.approx(37.0)
    assert s['ms_per_image'] == pytest.approx(12.5)
    assert s['images_per_s'] == pytest.approx(80.0)
    assert s['iters'] == 4
    with pytest.raises(ValueError, match='no timed'):
        bench.summarize([], 1)


def test_best_throughput_skips_failed_batches(bench):
    per_batch = {
        1: bench.summarize([0.010], 1),  # 100 img/s
        2: bench.summarize([0.010], 2),  # 200 img/s
        4: dict(error='out of memory'),
    }
    batch, stats = bench.best_throughput(per_batch)
    assert batch == 2 and stats['images_per_s'] == pytest.approx(200.0)
    assert bench.best_throughput({1: dict(error='x')}) is None


def test_markdown_table(bench):
    table = bench.markdown_table(['stage', 'ms'],
                                 [['hasm', '12.6'], ['tdr', 'n/a']])
    assert table.splitlines() == [
        '| stage | ms |', '|---|---:|', '| hasm | 12.6 |', '| tdr | n/a |']
    with pytest.raises(ValueError, match='2 cells, expected 3'):
        bench.markdown_table(['a', 'b', 'c'], [['x', 'y']])
    assert bench.fmt(None) == 'n/a' and bench.fmt(float('nan')) == 'n/a'
    assert bench.fmt(3.14159, 2) == '3.14'


class _Attention(nn.Module):

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


class _NotTraceable(nn.Module):

    def forward(self, x):
        return x.tolist()


def test_count_flops(bench):
    # q (2, 3, 5, 4), k (2, 3, 7, 4), v (2, 3, 7, 6): 6 (batch, head)
    # pairs x 5 queries x 7 keys x (4 score + 6 value) multiply-adds; the
    # softmax inside is element-wise and not counted
    q, k, v = torch.rand(2, 3, 5, 4), torch.rand(2, 3, 7, 4), torch.rand(
        2, 3, 7, 6)
    res = bench.count_flops(_Attention(), (q, k, v))
    assert res == dict(flops=2 * 3 * 5 * 7 * (4 + 6), unsupported={},
                       error=None)
    # a 3x3 conv 2 -> 4 channels on 8x8 (padding 1): 64 outputs x 4
    # channels x 2 x 9 taps; the ReLU after it is element-wise; the
    # max-pool has no formula and is reported
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False),
                        nn.ReLU(), nn.MaxPool2d(2))
    res = bench.count_flops(net, (torch.rand(1, 2, 8, 8), ))
    assert res['flops'] == 64 * 4 * 2 * 9
    assert res['unsupported'] == {'aten::max_pool2d': 1}
    res = bench.count_flops(_NotTraceable(), (torch.rand(2), ))
    assert res['flops'] is None and res['error']


def test_sizes_count_reference_mask_kernels(bench):
    from hdr_mm.models.tdr.partial_conv import PartialConvBlock
    block = PartialConvBlock(8, 16, 3, norm=True)
    conv_values = 16 * 8 * 3 * 3
    bn_values = 4 * 16 + 1  # weight, bias, running mean/var, counter
    assert bench.num_parameters(block) == conv_values + 2 * 16
    assert bench.num_state_values(block) == conv_values + bn_values
    # the authors store an all-ones mask kernel of the same shape
    assert bench.reference_state_values(block) == \
        2 * conv_values + bn_values
    assert bench.num_parameters(None) == 0


def test_two_hand_masks(bench):
    names = ('l_amodal', 'l_visible', 'r_amodal', 'r_visible')
    m = bench.two_hand_masks(64, names)
    assert m.shape == (4, 64, 64)
    l_amodal, l_visible, r_amodal, r_visible = m
    # the left hand is in front: it is fully visible and hides part of
    # the right one
    assert torch.equal(l_amodal, l_visible)
    overlap = r_amodal * l_amodal
    assert overlap.sum() > 0
    assert torch.equal(r_visible, r_amodal - overlap)
    assert r_visible.sum() > 0.5 * r_amodal.sum()
    # another order of names permutes the channels
    m2 = bench.two_hand_masks(64, names[::-1])
    assert torch.equal(m2, m.flip(0))
