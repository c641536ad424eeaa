import os
import subprocess
import sys

import pytest

from hdr_mm.utils.atomic_file import (UnwritableFolderError, atomic_write,
                                      ensure_writable_folder,
                                      remove_stale_parts)


def _writer(text):

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)

    return write


def test_writes_and_never_replaces_without_overwrite(tmp_path):
    path = str(tmp_path / 'out.txt')
    atomic_write(path, _writer('one'))
    with pytest.raises(FileExistsError, match='out.txt exists'):
        atomic_write(path, _writer('two'))
    assert open(path).read() == 'one'
    atomic_write(path, _writer('three'), overwrite=True)
    assert open(path).read() == 'three'
    assert os.listdir(tmp_path) == ['out.txt']


def test_a_file_created_meanwhile_is_not_replaced(tmp_path):
    path = str(tmp_path / 'out.txt')

    def race(tmp):
        _writer('mine')(tmp)
        with open(path, 'w') as f:  # another process finished first
            f.write('theirs')

    with pytest.raises(FileExistsError, match='another process'):
        atomic_write(path, race)
    assert open(path).read() == 'theirs'
    assert os.listdir(tmp_path) == ['out.txt']


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = str(tmp_path / 'out.txt')
    atomic_write(path, _writer('old'))

    def dies(tmp):
        with open(tmp, 'w') as f:
            f.write('half')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, dies, overwrite=True)
    assert open(path).read() == 'old'
    assert os.listdir(tmp_path) == ['out.txt']


def test_parts_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, '-c', 'import os; '
                           'print(os.getpid())'],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / f'.ckpt.pth.part-{dead}').write_text('killed while saving')
    (tmp_path / f'.live.pth.part-{os.getppid()}').write_text('in progress')
    (tmp_path / 'keep.part-1').write_text('not a temporary file')
    remove_stale_parts(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == [
        f'.live.pth.part-{os.getppid()}', 'keep.part-1'
    ]


def test_unwritable_folder_is_named_and_its_file_kept(unwritable_folder):
    path = str(unwritable_folder / 'hasm.onnx')
    called = []
    with pytest.raises(UnwritableFolderError) as e:
        atomic_write(path, called.append, overwrite=True)
    assert str(e.value).startswith(
        f'cannot write {path}: output folder {unwritable_folder}: it is not '
        'writable (')
    assert not called  # nothing ran
    assert (unwritable_folder / 'hasm.onnx').read_bytes() == b'old'
    with pytest.raises(UnwritableFolderError,
                       match=f'output folder {unwritable_folder}: it is not '
                       'writable'):
        ensure_writable_folder(str(unwritable_folder))
    with pytest.raises(UnwritableFolderError, match='it cannot be created'):
        ensure_writable_folder(str(unwritable_folder / 'sub'))


def test_a_file_in_place_of_the_folder(tmp_path):
    (tmp_path / 'out').write_text('a file')
    for folder in (tmp_path / 'out', tmp_path / 'out' / 'deeper'):
        with pytest.raises(UnwritableFolderError) as e:
            ensure_writable_folder(str(folder))
        assert str(e.value).startswith(f'output folder {folder}: ')
    with pytest.raises(UnwritableFolderError,
                       match='out: it exists and is not a folder'):
        atomic_write(str(tmp_path / 'out' / 'x.onnx'), _writer('x'))
    assert ensure_writable_folder(str(tmp_path / 'new')) == str(
        tmp_path / 'new')
    assert os.listdir(tmp_path / 'new') == []  # the probe is gone


@pytest.mark.parametrize('overwrite', [False, True])
def test_a_folder_in_place_of_the_file(tmp_path, overwrite):
    """A folder of the target's name is refused by name before anything is
    written (os.replace would fail only after the work, naming the
    temporary file)."""
    target = tmp_path / 'tdr.onnx'
    (target / 'inside').mkdir(parents=True)
    called = []
    with pytest.raises(IsADirectoryError) as e:
        atomic_write(str(target), called.append, overwrite=overwrite)
    assert str(e.value) == (f'cannot write {target}: a folder of that name '
                            'is there (expected a file name); remove it or '
                            'write elsewhere')
    assert not called
    assert os.listdir(tmp_path) == ['tdr.onnx']
    assert os.listdir(target) == ['inside']
