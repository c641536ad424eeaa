"""load_weights: the one strict, weights-only way hdr_mm loads a user's
checkpoint into a model."""
import pytest
import torch
import torch.nn as nn

from hdr_mm.utils import (CheckpointMismatchError, UnsafeCheckpointError,
                          check_weights_fit, load_weights,
                          save_mmengine_checkpoint)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_a_fitting_checkpoint_loads(tmp_path):
    src, dst = _net(), _net()
    with torch.no_grad():
        src[0].weight.add_(1)
    path = str(tmp_path / 'ok.pth')
    # weights saved from a distributed wrapper: 'module.' prefixes
    save_mmengine_checkpoint(
        {
            f'module.{k}': v
            for k, v in src.state_dict().items()
        },
        path,
        meta=dict(note='kept'))
    ckpt = load_weights(dst, path)
    assert ckpt['meta'] == dict(note='kept')
    assert torch.equal(dst[0].weight, src[0].weight)


def test_mismatches_name_the_file_and_keys(tmp_path):
    model = _net()
    path = str(tmp_path / 'other.pth')
    save_mmengine_checkpoint(nn.Linear(2, 3).state_dict(), path)
    with pytest.raises(CheckpointMismatchError) as e:
        load_weights(model, path, 'detector checkpoint', 'the detector')
    assert str(e.value) == (
        f'detector checkpoint {path} does not fit the detector: 7 missing '
        "key(s) ['0.bias', '0.weight', '1.bias', '1.num_batches_tracked', "
        "'1.running_mean'], 2 unexpected key(s) ['bias', 'weight'], 0 shape "
        'mismatch(es) []. Is it the checkpoint of another model or config?')
    before = model[0].weight.clone()
    sd = _net().state_dict()
    sd['0.weight'] = torch.zeros(4, 3, 5, 5)
    with pytest.raises(CheckpointMismatchError,
                       match=r"1 shape mismatch\(es\) \['0.weight'\]"):
        check_weights_fit(model, dict(state_dict=sd), 'x.pth')
    assert torch.equal(model[0].weight, before)  # nothing was loaded


def test_not_a_state_dict(tmp_path):
    path = str(tmp_path / 'notes.pth')
    torch.save(dict(step=3, note='no weights'), path)

    class Mine(CheckpointMismatchError):
        pass

    with pytest.raises(Mine, match='notes.pth holds no state dict'):
        load_weights(_net(), path, error=Mine)


def test_reads_weights_only(tmp_path, crafted_checkpoint):
    marker = tmp_path / 'pwned'
    path = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_weights(_net(), path)
    assert not marker.exists()
