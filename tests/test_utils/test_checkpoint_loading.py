"""Weights-only checkpoint loading: what mmengine writes loads, a crafted
pickle does not run, and importing hdr_mm changes nothing."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

from hdr_mm.utils.checkpoint_loading import (SAFE_CHECKPOINT_GLOBALS,
                                             UnsafeCheckpointError,
                                             checkpoint_loading,
                                             load_local_checkpoint)


def test_import_has_no_process_wide_effect():
    """In a fresh process: after ``import hdr_mm`` mmengine's loader for
    local files is its own and torch's allow-list holds nothing of
    hdr_mm's."""
    code = ('import torch, hdr_mm; '
            'from mmengine.runner.checkpoint import CheckpointLoader, '
            'load_from_local; '
            'from hdr_mm.utils import SAFE_CHECKPOINT_GLOBALS as ours; '
            "assert CheckpointLoader._schemes[''] is load_from_local; "
            'marked = torch.serialization.get_safe_globals(); '
            'assert not [g for g in ours if g in marked]; '
            "print('ok')")
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=root))
    assert out.stdout.strip() == 'ok', out.stderr[-2000:]


def test_crafted_pickle_is_refused_and_names_the_opt_in(
        tmp_path, crafted_checkpoint):
    marker = tmp_path / 'pwned'
    path = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    with pytest.raises(UnsafeCheckpointError) as e:
        load_local_checkpoint(path)
    msg = str(e.value)
    assert 'evil.pth' in msg and 'posix.mkdir' in msg
    assert '--unsafe-load' in msg and 'unsafe_load=True' in msg
    with pytest.raises(UnsafeCheckpointError), checkpoint_loading():
        load_checkpoint(torch.nn.Linear(1, 2), path)
    assert not marker.exists()
    # the explicit opt-in unpickles fully (and so runs the payload)
    with checkpoint_loading(unsafe=True):
        load_checkpoint(torch.nn.Module(), path, strict=False)
    assert marker.exists()


def test_allowed_objects_load_and_safe_globals_are_restored(tmp_path):
    path = str(tmp_path / 'ok.pth')
    torch.save(
        dict(meta=dict(flip=np.array([1, 0], np.int64), score=np.float64(.5),
                       colors=np.zeros((2, 3), np.uint8),
                       sigmas=np.array([], np.float32)),
             state_dict=dict(w=torch.zeros(1))), path)
    before = list(torch.serialization.get_safe_globals())
    ckpt = load_local_checkpoint(path)
    assert ckpt['meta']['score'] == 0.5
    assert ckpt['meta']['colors'].shape == (2, 3)
    # the allow-list is marked safe only during the load (torch itself may
    # mark types of its own meanwhile, e.g. on a lazy import of
    # torch.distributed.tensor: only ours are checked)
    after = torch.serialization.get_safe_globals()
    assert all(g in after for g in before)
    assert not [g for g in after
                if g in SAFE_CHECKPOINT_GLOBALS and g not in before]
    # globals a caller had marked safe stay marked
    torch.serialization.add_safe_globals([np.ndarray])
    try:
        load_local_checkpoint(path)
        assert np.ndarray in torch.serialization.get_safe_globals()
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)


def test_objects_outside_the_list_are_refused_with_the_reason(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save(dict(meta=dict(names=np.array(['a', 'b']))), path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r'other.pth.*StrDType.*--unsafe-load'):
        load_local_checkpoint(path)
    # a free getattr is not allowed, only HistoryBuffer's lookups
    from mmengine.logging.history_buffer import HistoryBuffer

    class Sneaky:

        def __reduce__(self):
            return (getattr, (HistoryBuffer, '__init__'))

    torch.save(dict(meta=Sneaky()), path)
    with pytest.raises(UnsafeCheckpointError, match="'__init__'"):
        load_local_checkpoint(path)


def test_contexts_nest_and_give_mmengine_its_loader_back(
        tmp_path, crafted_checkpoint):
    marker = tmp_path / 'pwned'
    path = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    assert CheckpointLoader._schemes[''] is load_from_local
    with checkpoint_loading(unsafe=True):
        with checkpoint_loading():  # None: inherits the opt-in
            CheckpointLoader.load_checkpoint(path)
        os.rmdir(marker)
        with checkpoint_loading(unsafe=False):  # explicitly safe inside
            with pytest.raises(UnsafeCheckpointError):
                CheckpointLoader.load_checkpoint(path)
    assert not marker.exists()
    assert CheckpointLoader._schemes[''] is load_from_local


def test_unreadable_file_is_named(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(100))), str(path))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(RuntimeError, match='cannot read checkpoint .*cut.pth'):
        load_local_checkpoint(str(path))
    with pytest.raises(FileNotFoundError,
                       match='^checkpoint not found: .*absent.pth$'):
        load_local_checkpoint(str(tmp_path / 'absent.pth'))
    with pytest.raises(IsADirectoryError, match='is a folder'):
        load_local_checkpoint(str(tmp_path))


class _Payload:
    """Unpickling it creates a folder (a stand-in for any code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker, ))


@pytest.mark.parametrize('kind', ['random', 'empty', 'numpy', 'pickle'])
def test_a_file_that_is_no_checkpoint_is_unreadable_not_unsafe(
        tmp_path, kind):
    """Random bytes, an empty file, a numpy file or a plain pickle (here
    with a payload) are not checkpoints: refused as unreadable, without
    suggesting the full unpickle, and nothing in them runs."""
    import pickle
    marker = tmp_path / 'pwned'
    path = tmp_path / 'weights.pth'
    if kind == 'numpy':
        with open(path, 'wb') as f:
            np.save(f, np.ones(3))
    elif kind == 'pickle':
        path.write_bytes(pickle.dumps(dict(w=_Payload(marker))))
    else:
        path.write_bytes(os.urandom(500) if kind == 'random' else b'')
    with pytest.raises(RuntimeError) as e:
        load_local_checkpoint(str(path))
    assert type(e.value) is RuntimeError
    why = ('it is empty' if kind == 'empty' else
           'it is not a PyTorch checkpoint (neither the zip archive that '
           "torch.save writes nor torch's legacy format)")
    assert str(e.value) == (f'cannot read checkpoint {path}: {why}; is it '
                            'the right file?')
    assert not marker.exists()


def test_legacy_format_payload_and_unparsable_pickles(tmp_path):
    """torch's legacy (non-zip) format with a payload is refused by its
    global, in one line (not torch's long message); a checkpoint the
    weights-only reader cannot parse says so and names the opt-in."""
    marker = tmp_path / 'pwned'
    legacy = str(tmp_path / 'legacy.pth')
    torch.save(dict(meta=_Payload(marker)), legacy,
               _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeCheckpointError) as e:
        load_local_checkpoint(legacy)
    assert str(e.value).startswith(
        f'refused to load checkpoint {legacy}: it holds objects that a '
        'weights-only load does not allow (Trying to load unsupported '
        'GLOBAL posix.mkdir whose module posix is blocked.)')
    assert 'In PyTorch 2.6' not in str(e.value)
    assert not marker.exists()
    proto4 = str(tmp_path / 'proto4.pth')
    torch.save(dict(w=torch.ones(2)), proto4, pickle_protocol=4)
    with pytest.raises(UnsafeCheckpointError) as e:
        load_local_checkpoint(proto4)
    msg = str(e.value)
    assert msg.startswith(f'refused to load checkpoint {proto4}: '
                          "torch's weights-only reader cannot parse it "
                          '(Unsupported operand '), msg
    assert msg.endswith(
        '): it is corrupt, or was written with pickle features that only a '
        'full unpickle reads. If the file comes from a source you trust, '
        'pass --unsafe-load to the tool or unsafe_load=True to the API.')
    assert load_local_checkpoint(proto4, unsafe=True)['w'].shape == (2, )


def test_allow_list_is_what_runner_checkpoints_hold(runner_checkpoint):
    """Every global of a checkpoint written by mmengine's Runner is on the
    allow-list, and loads weights-only."""
    names = {
        g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
        for g in SAFE_CHECKPOINT_GLOBALS
    }
    found = set(
        torch.serialization.get_unsafe_globals_in_checkpoint(
            runner_checkpoint))
    assert found and found <= names
    ckpt = load_local_checkpoint(runner_checkpoint)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer',
            'param_schedulers'} <= set(ckpt)


def test_environment_cannot_force_a_full_unpickle(tmp_path, monkeypatch,
                                                  crafted_checkpoint):
    """``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` changes only torch.load calls
    that do not ask for weights_only; ours ask. Should a torch apply it
    anyway, the probe refuses every load."""
    marker = tmp_path / 'pwned'
    path = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_local_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError), checkpoint_loading():
        load_checkpoint(torch.nn.Linear(1, 2), path)
    assert not marker.exists()

    real_load = torch.load

    def env_wins(f, *args, **kwargs):  # a torch that lets the env decide
        kwargs['weights_only'] = False
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, 'load', env_wins)
    with pytest.raises(UnsafeCheckpointError) as e:
        load_local_checkpoint(path)
    assert str(e.value).startswith(
        'refused to load checkpoints: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 is '
        f'set and this torch {torch.__version__} then unpickles fully')
    assert not marker.exists()


def test_forced_weights_only_and_the_opt_in_say_why(tmp_path, monkeypatch):
    path = str(tmp_path / 'other.pth')
    torch.save(dict(meta=dict(names=np.array(['a', 'b']))), path)
    monkeypatch.setenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError,
                       match=r'other.pth with --unsafe-load: '
                       r'TORCH_FORCE_WEIGHTS_ONLY_LOAD=1 is set'):
        load_local_checkpoint(path, unsafe=True)


def test_downloaded_checkpoints_are_read_weights_only(
        tmp_path, monkeypatch, crafted_checkpoint):
    """mmengine reads http(s):// (and open-mmlab://, torchvision://)
    checkpoints with torch.hub, which unpickles fully; inside the context
    the download is read weights-only from torch.hub's cache."""
    import shutil
    marker = tmp_path / 'pwned'
    served = crafted_checkpoint(tmp_path / 'served.pth', marker)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    monkeypatch.setattr(torch.hub, 'download_url_to_file',
                        lambda url, dst, *a, **k: shutil.copy(served, dst))
    url = 'https://example.org/models/evil.pth'
    cached = tmp_path / 'hub' / 'checkpoints' / 'evil.pth'
    with pytest.raises(UnsafeCheckpointError,
                       match=f'checkpoint {cached}: it holds'), \
            checkpoint_loading():
        load_checkpoint(torch.nn.Linear(1, 2), url)
    assert not marker.exists()
    from mmengine.runner import checkpoint as mm_checkpoint
    assert mm_checkpoint.load_url is not None
    assert 'hdr_mm' not in mm_checkpoint.load_url.__module__
