import os.path as osp

import pytest
import torch

from hdr_mm.utils import (CheckpointKeyError, check_keys, convert_state_dict,
                          load_reference_state_dict,
                          save_mmengine_checkpoint)


@pytest.mark.parametrize('wrap', ['bare', 'authors', 'module'])
def test_load_reference_state_dict_unwraps(tmp_path, wrap):
    sd = {'enc_1.conv.weight': torch.ones(2, 3), 'dec.bias': torch.zeros(4)}
    if wrap == 'authors':
        obj = {'step': 10, 'state_dict': sd, 'optimizer': {}}
    elif wrap == 'module':
        obj = {'state_dict': {f'module.{k}': v for k, v in sd.items()}}
    else:
        obj = sd
    path = str(tmp_path / 'ckpt.pth')
    torch.save(obj, path)
    out = load_reference_state_dict(path)
    assert list(out) == list(sd)
    assert torch.equal(out['enc_1.conv.weight'], sd['enc_1.conv.weight'])


def test_load_reference_state_dict_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_reference_state_dict(str(tmp_path / 'missing.pth'))
    path = tmp_path / 'truncated.pth'
    torch.save({'w': torch.ones(1000)}, str(path))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match='truncated.pth'):
        load_reference_state_dict(str(path))
    torch.save({'step': 1}, str(tmp_path / 'nosd.pth'))
    with pytest.raises(ValueError, match='no state dict'):
        load_reference_state_dict(str(tmp_path / 'nosd.pth'))


def test_convert_state_dict_reports_missing_and_unexpected():
    src = {'a': torch.ones(1), 'b': torch.ones(1)}
    out = convert_state_dict(src, {'a': 'x.a', 'b': 'x.b'}, 'test')
    assert list(out) == ['x.a', 'x.b']
    with pytest.raises(CheckpointKeyError) as e:
        convert_state_dict(src, {'a': 'x.a', 'c': 'x.c'}, 'ckpt')
    msg = str(e.value)
    assert "missing key(s) ['c']" in msg and "unexpected key(s) ['b']" in msg
    check_keys(['a', 'n'], ['a'], 'ok', ignore=['n'])


def test_save_mmengine_checkpoint_never_overwrites(tmp_path):
    path = str(tmp_path / 'out.pth')
    save_mmengine_checkpoint({'w': torch.ones(2)}, path, meta={'k': 1})
    ckpt = torch.load(path, weights_only=False)
    assert ckpt['meta'] == {'k': 1} and torch.equal(ckpt['state_dict']['w'],
                                                    torch.ones(2))
    with pytest.raises(FileExistsError):
        save_mmengine_checkpoint({'w': torch.zeros(2)}, path)
    assert torch.equal(
        torch.load(path, weights_only=False)['state_dict']['w'],
        torch.ones(2))
    assert not osp.exists(path + '.tmp')
