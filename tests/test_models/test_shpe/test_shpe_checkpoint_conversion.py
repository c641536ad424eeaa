"""Converter of the authors' SHPE checkpoint: key coverage, equality of
outputs against an independent functional forward of their layout."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpose.registry import MODELS

from hdr_mm.models.shpe.checkpoint_conversion import (convert_shpe_detnet,
                                                  shpe_key_map)
from hdr_mm.utils.checkpoint import CheckpointKeyError

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
MANIFEST = osp.join(ROOT, 'tests/data/reference/hdr_state_dict_manifest.json')
TOOL = osp.join(ROOT, 'tools/model_converters/shpe_detnet2hdr_mm.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('shpe_conv', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def authors_sd():
    """Random values in the authors' key layout and shapes."""
    with open(MANIFEST) as f:
        shapes = json.load(f)['shpe_detnet']
    g = torch.Generator().manual_seed(0)
    sd = {}
    for k, shape in shapes.items():
        if k.endswith('num_batches_tracked'):
            sd[k] = torch.tensor(7)
        elif k.endswith('running_var'):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        elif k.endswith('weight') and len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            sd[k] = torch.randn(shape, generator=g) * (2 / fan_in)**0.5
        else:
            sd[k] = torch.randn(shape, generator=g) * 0.1
            if k.endswith('.weight'):
                sd[k] += 1  # BN scale around 1
    return sd


# ---- independent functional forward of the authors' layout ----
def _bn(x, sd, p):
    return F.batch_norm(x, sd[p + '.running_mean'], sd[p + '.running_var'],
                        sd[p + '.weight'], sd[p + '.bias'], False, 0., 1e-5)


def _unit(x, sd, p, stride=1, dil=1):
    out = F.relu(_bn(F.conv2d(x, sd[p + '.conv1.weight']), sd, p + '.bn1'))
    out = F.conv2d(out, sd[p + '.conv2.weight'], stride=stride,
                   padding=dil, dilation=dil)
    out = F.relu(_bn(out, sd, p + '.bn2'))
    out = _bn(F.conv2d(out, sd[p + '.conv3.weight']), sd, p + '.bn3')
    if p + '.shortcut.0.weight' in sd:
        idt = _bn(F.conv2d(x, sd[p + '.shortcut.0.weight']), sd,
                  p + '.shortcut.1')
    elif stride == 2:
        idt = F.max_pool2d(x, 2, 2)
    else:
        idt = x
    return F.relu(out + idt)


def _branch(x, sd, p):
    x = F.relu(_bn(F.conv2d(x, sd[p + '.project.0.weight'], padding=1), sd,
                   p + '.project.1'))
    return F.conv2d(x, sd[p + '.prediction.weight'],
                    sd[p + '.prediction.bias'])


def authors_forward(sd, img):
    x = F.relu(_bn(F.conv2d(img, sd['resnet.conv1.weight'], stride=2,
                            padding=3), sd, 'resnet.bn1'))
    for i in range(2):
        x = _unit(x, sd, f'resnet.block1.{i}')
    x = _unit(x, sd, 'resnet.pool.0', stride=2)
    for i in range(4):
        x = _unit(x, sd, f'resnet.block2.{i}', dil=2)
    for i in range(6):
        x = _unit(x, sd, f'resnet.block3.{i}', dil=4)
    x = F.relu(_bn(F.conv2d(x, sd['resnet.squeeze.0.weight'], padding=1), sd,
                   'resnet.squeeze.1'))
    B, _, H, W = x.shape
    u = torch.from_numpy(np.tile(np.linspace(-1, 1, W), (H, 1))).float()
    v = torch.from_numpy(np.tile(np.linspace(-1, 1, H)[:, None], (1, W)))
    pos = torch.stack([u, v.float()])[None].repeat(B, 1, 1, 1)
    x = torch.cat([x, pos], 1)
    hm = _branch(x, sd, 'hmap_0').sigmoid()
    x = torch.cat([x, hm], 1)
    dm = _branch(x, sd, 'dmap_0')
    x = torch.cat([x, dm], 1)
    lm = _branch(x, sd, 'lmap_0')
    return hm, dm.view(B, 21, 3, H, W), lm.view(B, 21, 3, H, W)


def test_every_key_maps(authors_sd):
    model = MODELS.build(load_tool().DEFAULT_MODEL)
    key_map = shpe_key_map(authors_sd)
    assert len(set(key_map.values())) == len(authors_sd) == 288
    assert set(key_map.values()) == set(model.state_dict())


def test_cli_converts_and_outputs_match(authors_sd, tmp_path):
    src = tmp_path / 'authors.pth'
    torch.save(dict(step=1000,
                    state_dict={'module.' + k: v
                                for k, v in authors_sd.items()},
                    optimizer={}), src)
    dst = tmp_path / 'shpe_hdr_mm.pth'
    tool = load_tool()
    assert tool.main([str(src), str(dst)]) == 0
    with pytest.raises(FileExistsError):
        tool.main([str(src), str(dst)])

    model = MODELS.build(dict(
        type='TopdownPoseEstimator', backbone=dict(type='DetNetResNet'),
        head=dict(type='DetNetHead')))
    ckpt = torch.load(dst, weights_only=False)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    img = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model.head(model.backbone(img))
        ref = authors_forward(authors_sd, img)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        # float32, different summation order: tolerance at ~1e-5 of the range
        tol = 2e-5 * float(b.abs().max())
        torch.testing.assert_close(a, b, rtol=1e-4, atol=tol)
        assert b.std() > 0


def test_missing_and_unexpected_keys_are_reported(authors_sd, tmp_path,
                                                  capsys):
    expected = MODELS.build(load_tool().DEFAULT_MODEL).state_dict()
    sd = dict(authors_sd)
    del sd['lmap_0.prediction.bias']
    with pytest.raises(CheckpointKeyError,
                       match=r"1 missing key\(s\) \['head.location_branch"):
        convert_shpe_detnet(sd, expected)
    sd = dict(authors_sd)
    sd['fc.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError, match="unexpected.*'fc.weight'"):
        convert_shpe_detnet(sd, expected)
    sd = dict(authors_sd)
    sd['hmap_0.prediction.bias'] = torch.zeros(42)
    with pytest.raises(ValueError, match='shape mismatch'):
        convert_shpe_detnet(sd, expected)
    # the CLI reports and writes nothing
    src, dst = tmp_path / 'a.pth', tmp_path / 'b.pth'
    torch.save({k: v for k, v in authors_sd.items()
                if k != 'resnet.bn1.bias'}, src)
    assert load_tool().main([str(src), str(dst)]) == 1
    assert 'backbone.bn1.bias' in capsys.readouterr().err
    assert not dst.exists()
