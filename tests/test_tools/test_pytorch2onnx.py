"""tools/deployment/pytorch2onnx.py: a stage config and an HDR pipeline
config export, and the exported graphs answer like PyTorch."""
import importlib.util
import os.path as osp

import pytest

pytest.importorskip('onnxruntime')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'hdr_pytorch2onnx', osp.join(ROOT, 'tools/deployment/pytorch2onnx.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stage_config(tool, tmp_path, capsys):
    written = tool.main([
        osp.join(ROOT, 'configs/shpe/'
                 'shpe_detnet-tiny_b16-adam_synthetic-128x128.py'),
        '--out-dir', str(tmp_path), '--verify'])
    assert list(written) == ['shpe'] and osp.isfile(written['shpe'])
    out = capsys.readouterr().out
    diff = float(out.split('max |onnxruntime - torch| = ')[1].split()[0])
    assert diff < 1e-4


def test_pipeline_config_chosen_stages(tool, tmp_path):
    from hdr_mm.deploy import ORTGenerator, load_ort_stage
    written = tool.main([
        osp.join(ROOT, 'configs/hdr/hdr_tiny_synthetic-256x256.py'),
        '--out-dir', str(tmp_path), '--stages', 'tdr'])
    assert list(written) == ['tdr']
    runner = load_ort_stage(written['tdr'])
    assert isinstance(runner, ORTGenerator)
    assert runner.metadata['input_size'] == '64'
