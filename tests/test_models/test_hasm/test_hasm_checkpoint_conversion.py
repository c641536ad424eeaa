"""The mmseg 0.x -> hdr_mm HASM converter on a checkpoint written in the
authors' layout with random values."""
import os.path as osp
import runpy
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import hdr_mm  # noqa: F401
from hdr_mm.models.hasm import convert_hasm_mmseg0x
from hdr_mm.utils import CheckpointKeyError

ROOT = osp.join(osp.dirname(__file__), '../../..')
CONFIG = osp.join(
    ROOT, 'configs/hasm/hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py')
TOOL = osp.join(ROOT, 'tools/model_converters/hasm_segformer2hdr_mm.py')
CHANNELS, LEVEL_CHANNELS = 64, [32, 64, 160, 256]


def build_model():
    cfg = Config.fromfile(CONFIG)
    # the authors' network takes RGB only (no coordinate channels)
    cfg.model.backbone.in_channels = 3
    cfg.model.data_preprocessor.type = 'mmseg.SegDataPreProcessor'
    init_default_scope(cfg.default_scope)
    return MODELS.build(cfg.model)


def bn_keys(prefix, n):
    """A BatchNorm's state in mmcv 1.x ConvModule naming."""
    return {
        f'{prefix}.weight': (n, ),
        f'{prefix}.bias': (n, ),
        f'{prefix}.running_mean': (n, ),
        f'{prefix}.running_var': (n, ),
        f'{prefix}.num_batches_tracked': (),
    }


def authors_head_shapes():
    """The authors' four-branch head, key by key, as their mmseg 0.x code
    names it (written out here independently of the converter)."""
    shapes = {}
    for i, c in enumerate(LEVEL_CHANNELS):
        shapes[f'decode_head.convs.{i}.conv.weight'] = (CHANNELS, c, 1, 1)
        shapes.update(bn_keys(f'decode_head.convs.{i}.bn', CHANNELS))
    for k in range(1, 5):
        shapes[f'decode_head.fusion_conv{k}.conv.weight'] = (
            CHANNELS, 4 * CHANNELS, 1, 1)
        shapes.update(bn_keys(f'decode_head.fusion_conv{k}.bn', CHANNELS))
        shapes[f'decode_head.conv_seg{k}.weight'] = (2, CHANNELS, 1, 1)
        shapes[f'decode_head.conv_seg{k}.bias'] = (2, )
    # mmseg 0.x BaseDecodeHead always creates conv_seg (num_classes=2)
    shapes['decode_head.conv_seg.weight'] = (2, CHANNELS, 1, 1)
    shapes['decode_head.conv_seg.bias'] = (2, )
    return shapes


def random_authors_state_dict():
    """Random values in the authors' layout; MiT keys are the same in mmseg
    0.x and 1.x, so the backbone part is taken from mmseg's MiT."""
    g = torch.Generator().manual_seed(0)
    model = build_model()
    shapes = {
        k: tuple(v.shape)
        for k, v in model.state_dict().items() if k.startswith('backbone.')
    }
    shapes.update(authors_head_shapes())
    sd = OrderedDict()
    for k, shape in shapes.items():
        if k.endswith('num_batches_tracked'):
            sd[k] = torch.tensor(7)
        elif k.endswith('running_var'):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[k] = torch.randn(shape, generator=g)
    return sd


def test_convert_maps_every_key_and_branch_outputs_match():
    src = random_authors_state_dict()
    out, dropped = convert_hasm_mmseg0x(src)
    assert dropped == ['decode_head.conv_seg.bias',
                       'decode_head.conv_seg.weight']
    assert len(out) == len(src) - 2
    model = build_model().eval()
    model.load_state_dict(out, strict=True)  # every key, every shape
    assert torch.equal(model.decode_head.fusion_convs[2].conv.weight,
                       src['decode_head.fusion_conv3.conv.weight'])
    assert torch.equal(model.decode_head.conv_segs[0].bias,
                       src['decode_head.conv_seg1.bias'])

    # Branch k of the converted model computes the authors' branch k+1:
    # conv_seg<k>(ReLU(BN(fusion_conv<k>(fused levels)))).
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feats = model.extract_feat(x)
        fused = model.decode_head._fuse_levels(feats)
        logits = model.decode_head(feats)
        for k in range(1, 5):
            p = f'decode_head.fusion_conv{k}'
            h = F.conv2d(fused, src[f'{p}.conv.weight'])
            h = F.batch_norm(h, src[f'{p}.bn.running_mean'],
                             src[f'{p}.bn.running_var'],
                             src[f'{p}.bn.weight'], src[f'{p}.bn.bias'],
                             training=False, eps=1e-5)
            ref = F.conv2d(
                F.relu(h), src[f'decode_head.conv_seg{k}.weight'],
                src[f'decode_head.conv_seg{k}.bias'])
            torch.testing.assert_close(
                logits[:, 2 * (k - 1):2 * k], ref, rtol=1e-4, atol=1e-4)


def test_convert_rejects_unknown_and_incomplete():
    src = random_authors_state_dict()
    bad = OrderedDict(src)
    bad['decode_head.linear_fuse.conv.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError, match='linear_fuse'):
        convert_hasm_mmseg0x(bad)
    partial = OrderedDict(
        (k, v) for k, v in src.items() if 'conv_seg3.' not in k)
    with pytest.raises(CheckpointKeyError, match='classifier'):
        convert_hasm_mmseg0x(partial)
    gap = OrderedDict((k.replace('fusion_conv4', 'fusion_conv5').replace(
        'conv_seg4', 'conv_seg5'), v) for k, v in src.items())
    with pytest.raises(CheckpointKeyError, match='without gaps'):
        convert_hasm_mmseg0x(gap)


def run_tool(args, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [TOOL] + args)
    with pytest.raises(SystemExit) as e:
        runpy.run_path(TOOL, run_name='__main__')
    return e.value.code


def test_tool_end_to_end(tmp_path, monkeypatch):
    src = random_authors_state_dict()
    # mmcv 1.x file from a DataParallel model: wrapped and 'module.'-ed
    wrapped = dict(
        meta=dict(mmseg_version='0.20.2'),
        state_dict=OrderedDict(('module.' + k, v) for k, v in src.items()))
    src_path, dst_path = str(tmp_path / 'hasm.pth'), str(tmp_path / 'o.pth')
    torch.save(wrapped, src_path)
    # the small config without its coordinate channels, as the authors'
    rgb_config = tmp_path / 'hasm_rgb.py'
    rgb_config.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        'model = dict(\n'
        "    data_preprocessor=dict(type='mmseg.SegDataPreProcessor'),\n"
        '    backbone=dict(in_channels=3))\n')
    assert run_tool([src_path, dst_path, '--config', str(rgb_config)],
                    monkeypatch) == 0
    ckpt = torch.load(dst_path, weights_only=False)
    assert ckpt['meta']['dropped_keys'] == [
        'decode_head.conv_seg.bias', 'decode_head.conv_seg.weight'
    ]
    model = build_model()
    model.load_state_dict(ckpt['state_dict'], strict=True)
    torch.testing.assert_close(model.decode_head.conv_segs[3].weight,
                               src['decode_head.conv_seg4.weight'])
    # never overwrite silently
    with pytest.raises(FileExistsError):
        run_tool([src_path, dst_path], monkeypatch)
    # a truncated file gets a clear error
    with open(src_path, 'rb') as f:
        data = f.read()
    trunc = str(tmp_path / 'trunc.pth')
    with open(trunc, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match='trunc.pth'):
        run_tool([trunc, str(tmp_path / 'x.pth')], monkeypatch)
