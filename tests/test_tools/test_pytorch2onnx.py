"""tools/deployment/pytorch2onnx.py: a stage config and an HDR pipeline
config export, and the exported graphs answer like PyTorch; every file a
user hands over (config, checkpoints, the output paths) is refused with
its name and what was expected, whatever the environment says."""
import importlib.util
import os
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
                 'shpe_detnet-tiny_b16-adamw_synthetic-96x96.py'),
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


TDR = osp.join(ROOT, 'configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py')
DET = osp.join(ROOT, 'projects/rtmdet_hand_side/configs/'
               'rtmdet_nano_1xb16-24e_synthetic-hand-side-256.py')


@pytest.mark.parametrize('name, text, error, message', [
    ('model.pth', 'PK\x03\x04', 'ConfigFileError',
     r'^config .*model\.pth is not a config file: expected one of \.py'),
    ('syntax.py', 'model = dict(type=\n', 'ConfigFileError',
     r'^cannot read config .*syntax\.py: SyntaxError: '),
    ('nomodel.py', 'x = 1\n', 'ConfigFileError',
     r'^config .*nomodel\.py has no `model`'),
    # a misspelled type was taken for an SHPE config and built
    ('typo.py', f'_base_ = [{HDR!r}]\n'
     "model = dict(type='HDRPoseEstimater')\n", 'ConfigCheckError',
     r"typo\.py: `model\.type` = 'HDRPoseEstimater' is not a registered "
     r"component .*Did you mean \['HDRPoseEstimator'"),
    ('detector.py', f'_base_ = [{DET!r}]\n', 'ConfigFileError',
     r"detector\.py is not an HDR pipeline or stage config: its model is "
     r"'RTMDet', expected HDRPoseEstimator"),
])
def test_a_bad_config_is_named(tool, tmp_path, name, text, error, message):
    from hdr_mm.engine.config_check import ConfigCheckError
    from hdr_mm.utils import ConfigFileError
    errors = dict(ConfigFileError=ConfigFileError,
                  ConfigCheckError=ConfigCheckError)
    config = tmp_path / name
    config.write_text(text)
    out = tmp_path / 'onnx'
    with pytest.raises(errors[error], match=message):
        tool.main([str(config), '--out-dir', str(out), '--stages', 'tdr'])
    assert not list(out.iterdir())


def test_missing_folder_or_unreadable_files(tool, tmp_path):
    out = str(tmp_path / 'onnx')
    with pytest.raises(FileNotFoundError,
                       match=f'^config not found: {tmp_path}/absent.py$'):
        tool.main([str(tmp_path / 'absent.py'), '--out-dir', out])
    with pytest.raises(IsADirectoryError,
                       match=f'^config {tmp_path} is a folder'):
        tool.main([str(tmp_path), '--out-dir', out])
    with pytest.raises(FileNotFoundError,
                       match=f'^HDR checkpoint not found: {tmp_path}/a.pth$'):
        tool.main([HDR, str(tmp_path / 'a.pth'), '--out-dir', out,
                   '--stages', 'tdr'])
    noise = tmp_path / 'noise.pth'
    noise.write_bytes(os.urandom(400))
    with pytest.raises(RuntimeError) as e:
        tool.main([TDR, str(noise), '--out-dir', out, '--stages', 'tdr'])
    assert str(e.value) == (
        f'cannot read checkpoint {noise}: it is not a PyTorch checkpoint '
        "(neither the zip archive that torch.save writes nor torch's legacy "
        'format); is it the right file?')
    assert not os.listdir(out)


def test_a_folder_in_place_of_an_output_is_named_first(tool, tmp_path):
    out = tmp_path / 'onnx'
    (out / 'shpe.onnx').mkdir(parents=True)
    with pytest.raises(IsADirectoryError,
                       match=f'^cannot write {out}/shpe.onnx: a folder of '
                       'that name is there'):
        tool.main([HDR, '--out-dir', str(out), '--stages', 'tdr,shpe'])
    assert os.listdir(out) == ['shpe.onnx']  # tdr was not exported first


def test_crafted_stage_checkpoints_whatever_the_environment(
        tool, tmp_path, crafted_checkpoint, monkeypatch):
    """With torch's switch to full unpickling set, a crafted checkpoint is
    refused as a stage config's checkpoint and as one an HDR config
    names for a stage; its payload never runs."""
    from hdr_mm.utils import UnsafeCheckpointError
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = tmp_path / 'pwned'
    evil = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    named = tmp_path / 'hdr_named.py'
    named.write_text(f'_base_ = [{HDR!r}]\n'
                     f'model = dict(tdr=dict(checkpoint={evil!r}))\n')
    out = tmp_path / 'onnx'
    for argv in ([TDR, evil], [str(named)]):
        with pytest.raises(UnsafeCheckpointError,
                           match=f'^refused to load checkpoint {evil}: it '
                           r"holds \['posix.mkdir'\]"):
            tool.main(argv + ['--out-dir', str(out), '--stages', 'tdr'])
    assert not marker.exists()
    assert not list(out.iterdir())


def test_stage_training_checkpoint_loads_weights_only(
        tool, tmp_path, runner_checkpoint, hdr_pipeline_checkpoint):
    """A stage checkpoint as training writes it (meta with numpy arrays,
    message hub, optimizer, schedulers) exports from the stage config."""
    import torch

    from hdr_mm.utils import load_local_checkpoint
    ckpt = load_local_checkpoint(runner_checkpoint)
    ckpt['state_dict'] = load_local_checkpoint(osp.join(
        osp.dirname(hdr_pipeline_checkpoint), 'tdr.pth'))['state_dict']
    path = str(tmp_path / 'iter_2.pth')
    torch.save(ckpt, path)
    written = tool.main([TDR, path, '--out-dir', str(tmp_path / 'onnx'),
                         '--stages', 'tdr'])
    assert list(written) == ['tdr'] and osp.getsize(written['tdr']) > 0
