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
                 'shpe_detnet-tiny_b16-adamw_synthetic-64x64.py'),
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


HDR = osp.join(ROOT, 'configs/hdr/hdr_tiny_synthetic-256x256.py')


def test_training_checkpoint_loads_weights_only(tool, tmp_path,
                                                runner_checkpoint,
                                                hdr_pipeline_checkpoint):
    """A checkpoint as training writes it (meta with numpy arrays, message
    hub, optimizer, schedulers) loads without --unsafe-load."""
    import torch

    from hdr_mm.utils import load_local_checkpoint
    ckpt = load_local_checkpoint(runner_checkpoint)
    ckpt['state_dict'] = load_local_checkpoint(
        hdr_pipeline_checkpoint)['state_dict']
    path = str(tmp_path / 'iter_2.pth')
    torch.save(ckpt, path)
    written = tool.main([HDR, path, '--out-dir', str(tmp_path / 'onnx'),
                         '--stages', 'tdr'])
    assert list(written) == ['tdr']


def test_wrong_checkpoint_is_refused(tool, tmp_path,
                                     hdr_pipeline_checkpoint):
    from hdr_mm.utils import CheckpointMismatchError
    stage = osp.join(osp.dirname(hdr_pipeline_checkpoint), 'shpe.pth')
    with pytest.raises(CheckpointMismatchError) as e:
        tool.main([HDR, stage, '--out-dir', str(tmp_path), '--stages',
                   'tdr'])
    assert str(e.value).startswith(
        f'HDR checkpoint {stage} does not fit the model of {HDR}: ')
    assert 'missing key(s)' in str(e.value)
    assert not list(tmp_path.iterdir())


def test_unwritable_out_dir_is_named_first(tool, tmp_path,
                                           unwritable_folder):
    from hdr_mm.utils import UnwritableFolderError
    with pytest.raises(UnwritableFolderError,
                       match=f'^output folder {unwritable_folder}: it is not '
                       'writable'):
        tool.main([HDR, '--out-dir', str(unwritable_folder)])
    assert (unwritable_folder / 'hasm.onnx').read_bytes() == b'old'
    (tmp_path / 'file').write_text('not a folder')
    with pytest.raises(UnwritableFolderError,
                       match='file: it exists and is not a folder'):
        tool.main([HDR, '--out-dir', str(tmp_path / 'file')])
