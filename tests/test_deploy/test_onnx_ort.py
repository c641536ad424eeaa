"""ONNX export of the tiny stage networks and their onnxruntime runners
against PyTorch fp32: maps within 1e-4, SHPE joints identical."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from hdr_mm.deploy import (ORTGenerator, ORTPoseMaps,  # noqa: E402
                           ORTSegmentor, example_inputs, export_stage,
                           load_ort_stage)
from hdr_mm.models.hdr.stage_builder import build_stage  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(
    hasm=('configs/hasm/hasm_segformer_mit-b0_1xb8-1k_synthetic-128x128.py',
          128),
    tdr=('configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py', 64),
    shpe=('configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-64x64.py',
          64))
ATOL = RTOL = 1e-4


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """stage -> (torch model, onnxruntime runner)."""
    init_default_scope('mmpose')
    out = tmp_path_factory.mktemp('onnx')
    stages = {}
    for name, (cfg, size) in TINY.items():
        torch.manual_seed(0)
        model = build_stage(name, osp.join(ROOT, cfg))
        path = export_stage(name, model, str(out / f'{name}.onnx'), size)
        stages[name] = (model, load_ort_stage(path, num_threads=1))
    return stages


def test_runner_types(exported):
    assert isinstance(exported['hasm'][1], ORTSegmentor)
    assert isinstance(exported['tdr'][1], ORTGenerator)
    assert isinstance(exported['shpe'][1], ORTPoseMaps)
    assert exported['hasm'][1].metadata['input_size'] == '128'


def test_hasm_parity(exported):
    model, ort = exported['hasm']
    # batch 3: the exported graph has a dynamic batch axis
    (x, ) = example_inputs('hasm', model, 128, batch_size=3)
    metas = [dict(img_shape=(128, 128), pad_shape=(128, 128))] * 3
    with torch.no_grad():
        ref = model.encode_decode(x, metas)
    out = ort.encode_decode(x, metas)
    assert out.shape == ref.shape == (3, 8, 128, 128)
    assert torch.allclose(out, ref, atol=ATOL, rtol=RTOL)


def test_tdr_parity(exported):
    model, ort = exported['tdr']
    x, m = example_inputs('tdr', model, 64, batch_size=2)
    with torch.no_grad():
        ref, ref_mask = model.generator(x, m)
    out, out_mask = ort(x, m)
    assert torch.allclose(out, ref, atol=ATOL, rtol=RTOL)
    assert torch.equal(out_mask, ref_mask)


def test_shpe_parity_and_joints(exported):
    from mmpose.structures import PoseDataSample
    model, ort = exported['shpe']
    (x, ) = example_inputs('shpe', model, 64, batch_size=4)
    with torch.no_grad():
        ref = model.head.forward(model.extract_feat(x))
    out = ort(x)
    for a, b in zip(out, ref):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=ATOL, rtol=RTOL)
    samples = [PoseDataSample(metainfo=dict(input_size=(64, 64)))
               for _ in range(4)]
    cfg = dict(bone_length=95.0)
    for p, r in zip(model.head.decode_maps(out, samples, cfg),
                    model.head.decode_maps(ref, samples, cfg)):
        assert np.array_equal(p.keypoints, r.keypoints)
        np.testing.assert_allclose(p.keypoints_3d, r.keypoints_3d,
                                   atol=1e-3)


def test_export_refuses_bf16_and_unknown(tmp_path, exported):
    from hdr_mm.models.utils import prepare_for_inference
    init_default_scope('mmpose')
    model = build_stage('shpe', osp.join(ROOT, TINY['shpe'][0]))
    prepare_for_inference(model, 'bf16')
    with pytest.raises(ValueError, match='bf16'):
        export_stage('shpe', model, str(tmp_path / 'x.onnx'), 64)
    with pytest.raises(ValueError, match='unknown stage'):
        export_stage('hdr', model, str(tmp_path / 'x.onnx'), 64)


def test_prepared_fp32_model_exports(tmp_path):
    """Folded BatchNorms and channels_last export to the same maps."""
    from hdr_mm.models.utils import prepare_for_inference
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = build_stage('shpe', osp.join(ROOT, TINY['shpe'][0]))
    (x, ) = example_inputs('shpe', model, 64)
    with torch.no_grad():
        ref = model.head.forward(model.extract_feat(x))
    prepare_for_inference(model, 'fp32')
    ort = load_ort_stage(
        export_stage('shpe', model, str(tmp_path / 's.onnx'), 64))
    for a, b in zip(ort(x), ref):
        assert torch.allclose(a, b, atol=ATOL, rtol=RTOL)
