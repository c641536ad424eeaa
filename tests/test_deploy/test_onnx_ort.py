"""ONNX export of the tiny stage networks and their onnxruntime runners
against PyTorch fp32: maps within 1e-4, SHPE joints identical."""
import pytest
import torch

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from hdr_mm.deploy import (ORTGenerator, ORTPoseMaps,  # noqa: E402
                           ORTSegmentor, example_inputs, export_stage,
                           load_ort_stage)

ATOL = RTOL = 1e-4


@pytest.fixture(scope='module')
def exported(tiny_graphs):
    """stage -> (torch model, onnxruntime runner)."""
    return {name: (model, load_ort_stage(path, num_threads=1))
            for name, (model, path, _) in tiny_graphs.items()}


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


def test_shpe_parity_and_joints(exported, assert_same_joints):
    model, ort = exported['shpe']
    (x, ) = example_inputs('shpe', model, 96, batch_size=4)
    with torch.no_grad():
        ref = model.head.forward(model.extract_feat(x))
    out = ort(x)
    for a, b in zip(out, ref):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=ATOL, rtol=RTOL)
    assert_same_joints(model, out, ref)


def test_export_refuses_bf16_and_unknown(tmp_path, build_tiny):
    from hdr_mm.models.utils import prepare_for_inference
    model = build_tiny('shpe')
    prepare_for_inference(model, 'bf16')
    with pytest.raises(ValueError, match='bf16'):
        export_stage('shpe', model, str(tmp_path / 'x.onnx'), 64)
    with pytest.raises(ValueError, match='unknown stage'):
        export_stage('hdr', model, str(tmp_path / 'x.onnx'), 64)


def test_prepared_fp32_model_exports(tmp_path, build_tiny):
    """Folded BatchNorms and channels_last export to the same maps."""
    from hdr_mm.models.utils import prepare_for_inference
    model = build_tiny('shpe')
    (x, ) = example_inputs('shpe', model, 96)
    with torch.no_grad():
        ref = model.head.forward(model.extract_feat(x))
    prepare_for_inference(model, 'fp32')
    ort = load_ort_stage(
        export_stage('shpe', model, str(tmp_path / 's.onnx'), 96))
    for a, b in zip(ort(x), ref):
        assert torch.allclose(a, b, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize('spinning, expected', [(False, '0'), (True, '1')])
def test_worker_threads_sleep_between_calls_unless_asked(
        tiny_graphs, spinning, expected):
    # spinning threads take the cores from the torch code that runs
    # between the graphs in the pipeline: off unless asked for
    path = tiny_graphs['tdr'][1]
    kwargs = {} if not spinning else dict(spinning=True)
    runner = load_ort_stage(path, num_threads=1, **kwargs)
    opts = runner.session.get_session_options()
    for pool in ('intra_op', 'inter_op'):
        assert opts.get_session_config_entry(
            f'session.{pool}.allow_spinning') == expected
