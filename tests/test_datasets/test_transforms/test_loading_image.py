import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS

import hdr_mm  # noqa: F401


def _jpeg(tmp_path, name='frame.jpg') -> str:
    img = np.full((40, 60, 3), (10, 200, 30), np.uint8)
    cv2.imwrite(str(tmp_path / name), img)
    return str(tmp_path / name)


@pytest.mark.parametrize('scope,registry', [('mmpose', TRANSFORMS),
                                            ('mmseg', SEG_TRANSFORMS)])
def test_loads_like_load_image(tmp_path, scope, registry):
    init_default_scope(scope)
    load = registry.build(dict(type='LoadCheckedImage'))
    path = _jpeg(tmp_path)
    out = load(dict(img_path=path))
    ref = LoadImage()(dict(img_path=path))
    assert np.array_equal(out['img'], ref['img'])
    assert out['img_shape'] == out['ori_shape'] == (40, 60)
    # an array given by the inferencer passes through
    arr = load(dict(img=ref['img']))
    assert arr['img_path'] is None and arr['img_shape'] == (40, 60)


def test_truncated_file_is_an_error_naming_it(tmp_path):
    init_default_scope('mmpose')
    load = TRANSFORMS.build(dict(type='LoadCheckedImage', to_float32=True))
    path = _jpeg(tmp_path, 'cut.jpg')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(IOError, match='cut.jpg is truncated'):
        load(dict(img_path=path))
    with pytest.raises(FileNotFoundError, match='nowhere.jpg'):
        load(dict(img_path=str(tmp_path / 'nowhere.jpg')))
