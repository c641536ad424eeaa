"""A missing or truncated InterHand2.6M annotation file is an error that
names it (mmpose alone gives a bare AssertionError / JSONDecodeError)."""
import json
import shutil

import pytest
from mmengine.registry import init_default_scope

from hdr_mm.datasets import (AnnotationFileError, CheckedInterHand3DDataset,
                             SingleHand3DDataset)

FILES = dict(ann_file='test_interhand2.6m_data.json',
             camera_param_file='test_interhand2.6m_camera.json',
             joint_file='test_interhand2.6m_joint_3d.json')


@pytest.fixture
def data_root(test_data_dir, tmp_path):
    root = tmp_path / 'interhand2.6m'
    shutil.copytree(f'{test_data_dir}/interhand2.6m', root)
    return root


@pytest.mark.parametrize('cls', [CheckedInterHand3DDataset,
                                 SingleHand3DDataset])
@pytest.mark.parametrize('key', sorted(FILES))
def test_truncated_json_names_the_file(data_root, cls, key):
    init_default_scope('mmpose')
    path = data_root / FILES[key]
    text = path.read_text()
    json.loads(text)
    path.write_text(text[:len(text) // 2])
    with pytest.raises(AnnotationFileError) as e:
        cls(data_root=str(data_root), data_prefix=dict(img=''), **FILES)
    msg = str(e.value)
    assert str(path) in msg and 'not valid json' in msg
    assert 'complete' in msg


def test_missing_file_names_it(data_root):
    (data_root / FILES['joint_file']).unlink()
    with pytest.raises(FileNotFoundError,
                       match='joint file not found.*joint_3d.json'):
        CheckedInterHand3DDataset(data_root=str(data_root),
                                  data_prefix=dict(img=''), **FILES)


def test_valid_files_load_as_in_mmpose(data_root):
    from mmpose.datasets import InterHand3DDataset
    init_default_scope('mmpose')
    ours = CheckedInterHand3DDataset(data_root=str(data_root),
                                     data_prefix=dict(img=''), **FILES)
    theirs = InterHand3DDataset(data_root=str(data_root),
                                data_prefix=dict(img=''), **FILES)
    assert len(ours) == len(theirs) > 0
    assert ours.get_data_info(0)['img_path'] == theirs.get_data_info(
        0)['img_path']
