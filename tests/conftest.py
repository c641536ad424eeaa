import os
import os.path as osp

import pytest

# Tests run on 2-core machines next to other work: keep torch on one thread.
os.environ.setdefault('OMP_NUM_THREADS', '1')

TEST_DATA = osp.join(osp.dirname(osp.abspath(__file__)), 'data')
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def test_data_dir() -> str:
    """Folder of the fixtures shipped with the tests."""
    return TEST_DATA


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT
