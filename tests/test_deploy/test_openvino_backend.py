"""The tiny stage networks exported to ONNX and compiled by OpenVINO (f32)
against PyTorch eager fp32 and onnxruntime.

Tolerances: OpenVINO's f32 kernels compute the same float32 arithmetic
as PyTorch in another order (fused convolutions, other blockings), so the
outputs differ by rounding only: measured at most 1.5e-6 of each output's
range (its largest magnitude) on these networks, as onnxruntime's. The
tests allow 1e-4 of the range (plus 1e-4 relative): a margin of ~100x
for other CPUs' kernels, while a wrong operator (a missed attribute, a
wrong layout) moves an output by a sizeable fraction of its range. The
tolerance follows the range because the SHPE's maps are small (about
4e-3 at random weights), where a fixed 1e-4 would allow 2.5 % errors.
Against onnxruntime, which reads the same graph, 1e-5 of the range. The
TDR coverage mask is exact and the SHPE's joints read from the maps are
identical to eager's, as with onnxruntime.
"""
import logging

import pytest
import torch

pytest.importorskip('onnx')
pytest.importorskip('openvino')

from hdr_mm.deploy import (OVGenerator, OVPoseMaps,  # noqa: E402
                           OVSegmentor, example_inputs, load_ov_stage)
from hdr_mm.deploy import openvino_backend  # noqa: E402
from hdr_mm.deploy.openvino_backend import ov_precision_hint  # noqa: E402

STAGES = ('hasm', 'tdr', 'shpe')
#: allowed error, as a fraction of each output's largest magnitude
TOL = 1e-4


def assert_close(out: torch.Tensor, ref: torch.Tensor,
                 tol: float = TOL) -> None:
    """``out`` within ``tol`` of ``ref``'s range (and ``tol`` relative)."""
    assert out.shape == ref.shape and out.dtype == torch.float32
    torch.testing.assert_close(
        out, ref, rtol=tol, atol=tol * float(ref.abs().max()))


@pytest.fixture(scope='module')
def compiled(tiny_graphs):
    """stage -> (torch model, OpenVINO runner, graph file)."""
    return {name: (model, load_ov_stage(path, num_threads=1), path)
            for name, (model, path, _) in tiny_graphs.items()}


def test_runner_types_and_precision(compiled):
    assert isinstance(compiled['hasm'][1], OVSegmentor)
    assert isinstance(compiled['tdr'][1], OVGenerator)
    assert isinstance(compiled['shpe'][1], OVPoseMaps)
    for _, runner, _ in compiled.values():
        assert runner.inference_precision == 'fp32'
        assert runner.backend == 'openvino'
    assert compiled['hasm'][1].metadata['input_size'] == '128'
    assert compiled['hasm'][1].align_corners is False


def test_hasm_parity(compiled):
    model, ov, _ = compiled['hasm']
    # batch 3: the exported graph has a dynamic batch axis
    (x, ) = example_inputs('hasm', model, 128, batch_size=3)
    metas = [dict(img_shape=(128, 128), pad_shape=(128, 128))] * 3
    with torch.no_grad():
        ref = model.encode_decode(x, metas)
    out = ov.encode_decode(x, metas)
    assert out.shape == (3, 8, 128, 128)
    assert_close(out, ref)


def test_tdr_parity(compiled):
    model, ov, _ = compiled['tdr']
    x, m = example_inputs('tdr', model, 64, batch_size=2)
    with torch.no_grad():
        ref, ref_mask = model.generator(x, m)
    out, out_mask = ov(x, m)
    assert_close(out, ref)
    assert torch.equal(out_mask, ref_mask)


def test_shpe_parity_and_joints(compiled, assert_same_joints):
    model, ov, _ = compiled['shpe']
    (x, ) = example_inputs('shpe', model, 96, batch_size=4)
    with torch.no_grad():
        ref = model.head.forward(model.extract_feat(x))
    out = ov(x)
    for a, b in zip(out, ref):
        assert_close(a, b)
    assert_same_joints(model, out, ref)


@pytest.mark.parametrize('stage', STAGES)
def test_same_as_onnxruntime(compiled, tiny_graphs, stage):
    """The same graph through both engines: within 1e-5 of the range."""
    pytest.importorskip('onnxruntime')
    from hdr_mm.deploy import load_ort_stage
    model, ov, path = compiled[stage]
    inputs = example_inputs(stage, model, tiny_graphs[stage][2],
                            batch_size=2)
    ort = load_ort_stage(path, num_threads=1)
    for a, b in zip(ov.run(*inputs), ort.run(*inputs)):
        assert_close(a, b, tol=1e-5)


def test_precision_hints():
    assert ov_precision_hint(None, True) == 'f32'
    assert ov_precision_hint('fp32', True) == 'f32'
    assert ov_precision_hint('bf16', True) == 'bf16'
    assert ov_precision_hint('bf16', False) == 'f32'
    with pytest.raises(ValueError, match="got 'fp16'"):
        ov_precision_hint('fp16', True)


def test_bf16_without_native_bf16_compiles_f32(compiled, monkeypatch):
    """bf16 asked for on a CPU without native bf16: f32, with a warning
    that names the file (the CPU here may have it: pretend it has not)."""
    logs = []
    monkeypatch.setattr(openvino_backend, 'ov_native_bf16', lambda: False)
    monkeypatch.setattr(openvino_backend, 'print_log',
                        lambda msg, logger, level: logs.append((msg, level)))
    path = compiled['tdr'][2]
    runner = load_ov_stage(path, num_threads=1, precision='bf16')
    assert runner.inference_precision == 'fp32'
    assert logs == [(f'OpenVINO: this CPU has no native bf16 (no AMX or '
                     f'AVX512-BF16); {path} is compiled in f32',
                     logging.WARNING)]


@pytest.mark.skipif(not openvino_backend.ov_native_bf16(),
                    reason='the CPU has no native bf16')
def test_bf16_where_native(compiled):
    """On a CPU with native bf16: compiled in bf16, maps close to fp32
    (issue 20 measured within 7e-4 at paper size)."""
    model, _, path = compiled['shpe']
    runner = load_ov_stage(path, num_threads=1, precision='bf16')
    assert runner.inference_precision == 'bf16'
    (x, ) = example_inputs('shpe', model, 96, batch_size=2)
    with torch.no_grad():
        ref = model.head.forward(model.extract_feat(x))
    for a, b in zip(runner(x), ref):
        assert torch.isfinite(a).all()
        assert (a - b).abs().max() < 0.05 * b.abs().max() + 1e-3
