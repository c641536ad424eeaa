import os
import subprocess
import sys

import pytest

from hdr_mm.utils.atomic_file import atomic_write, remove_stale_parts


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
