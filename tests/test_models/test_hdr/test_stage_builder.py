"""The stage builder: where the pipeline reads a stage's input size, and
the combiner, which checks each stage checkpoint against the pipeline
config before writing anything."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from hdr_mm.models.hdr.stage_builder import (StageCheckpointError,
                                             combine_stage_checkpoints,
                                             stage_input_size)

CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


def test_sources_in_order():
    assert stage_input_size(Config(dict(input_size=(96, 96))), 'shpe') == 96
    assert stage_input_size(Config(dict(crop_size=64)), 'hasm') == 64
    # mmpose's stock top-down configs state it only in their codec
    stock = Config(dict(codec=dict(type='SimCCLabel', input_size=(256, 256))))
    assert stage_input_size(stock, 'shpe') == 256
    both = Config(dict(input_size=(128, 128),
                       codec=dict(type='SimCCLabel', input_size=[128, 128])))
    assert stage_input_size(both, 'shpe') == 128


def test_bad_sizes_are_named():
    with pytest.raises(KeyError, match='codec.input_size'):
        stage_input_size(Config(dict(codec=dict(type='X'))), 'shpe')
    with pytest.raises(ValueError, match='square'):
        stage_input_size(
            Config(dict(codec=dict(input_size=(192, 256)))), 'shpe')
    # input_size changed alone: the model would decode at 128 while the
    # pipeline maps its joints back at 96
    with pytest.raises(ValueError, match=r'input_size=\(96, 96\) but '
                       r'codec.input_size=\(128, 128\)'):
        stage_input_size(
            Config(dict(input_size=(96, 96),
                        codec=dict(input_size=(128, 128)))), 'shpe')


@pytest.fixture(scope='module')
def stages(hdr_pipeline_checkpoint):
    folder = osp.dirname(hdr_pipeline_checkpoint)
    return {s: osp.join(folder, f'{s}.pth') for s in ('hasm', 'tdr', 'shpe')}


def test_swapped_stages_are_named(stages, tmp_path):
    out = str(tmp_path / 'hdr.pth')
    swapped = dict(stages, hasm=stages['tdr'], tdr=stages['hasm'])
    with pytest.raises(StageCheckpointError) as e:
        combine_stage_checkpoints(swapped, out, CONFIG)
    msg = str(e.value)
    assert msg.startswith(f'hasm checkpoint {stages["tdr"]} does not fit')
    assert 'missing key(s)' in msg and 'It fits the tdr stage' in msg
    assert not osp.exists(out)


def test_bogus_missing_and_unknown_stages(stages, tmp_path):
    out = str(tmp_path / 'hdr.pth')
    bogus = str(tmp_path / 'bogus.pth')
    torch.save(dict(step=3, note='not weights'), bogus)
    with pytest.raises(StageCheckpointError,
                       match='shpe stage: .*bogus.pth holds no state dict'):
        combine_stage_checkpoints(dict(stages, shpe=bogus), out, CONFIG)
    shapes = str(tmp_path / 'shapes.pth')
    sd = torch.load(stages['shpe'], weights_only=True)['state_dict']
    key = next(k for k, v in sd.items() if v.dim() == 4)
    sd[key] = torch.zeros(1, 1, 1, 1)
    torch.save(dict(state_dict=sd), shapes)
    with pytest.raises(StageCheckpointError,
                       match=rf'1 shape mismatch\(es\) \[{key!r}\]'):
        combine_stage_checkpoints(dict(stages, shpe=shapes), out, CONFIG)
    with pytest.raises(StageCheckpointError, match='no tdr checkpoint'):
        combine_stage_checkpoints(dict(hasm=stages['hasm'],
                                       shpe=stages['shpe']), out, CONFIG)
    with pytest.raises(StageCheckpointError, match=r"unknown stage\(s\)"):
        combine_stage_checkpoints(dict(stages, detector=bogus), out, CONFIG)
    assert not osp.exists(out)


def test_build_stage_loads_strictly(stages):
    from hdr_mm.models.hdr.stage_builder import build_stage
    from hdr_mm.utils import CheckpointMismatchError
    tdr = 'configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py'
    assert build_stage('tdr', tdr, stages['tdr']).training is False
    with pytest.raises(StageCheckpointError) as e:
        build_stage('tdr', tdr, stages['shpe'])
    assert isinstance(e.value, CheckpointMismatchError)
    assert str(e.value).startswith(
        f'tdr stage: checkpoint {stages["shpe"]} does not fit the model of ')
    assert 'tdr_pconv-unet-tiny_synthetic-64x64.py: ' in str(e.value)
    assert 'missing key(s)' in str(e.value)
