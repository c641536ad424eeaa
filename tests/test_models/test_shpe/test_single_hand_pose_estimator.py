"""SingleHandPoseEstimator un-mirrors the predictions of mirrored crops,
for HDR's DetNet SHPE and for a stock mmpose head alike."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

CONFIG = 'configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-64x64.py'


def _samples(size, mirrored, n=2):
    out = []
    for m in mirrored:
        s = PoseDataSample(metainfo=dict(
            input_size=(size, size), input_center=np.array([50., 40.]),
            input_scale=np.array([80., 80.]), mirrored=m))
        s.gt_instances = InstanceData(bboxes=np.zeros((1, 4)),
                                      bbox_scores=np.ones(1))
        s.gt_instance_labels = InstanceData(
            ref_bone_length=torch.tensor([90.]))
        out.append(s)
    return out


@pytest.mark.parametrize('head', ['detnet', 'heatmap'])
def test_mirrored_crops_are_unmirrored(head):
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG).model
    if head == 'heatmap':  # a stock 2D mmpose head on the same trunk
        cfg.head = dict(
            type='HeatmapHead', in_channels=64, out_channels=21,
            deconv_out_channels=None,
            decoder=dict(type='MSRAHeatmap', input_size=(64, 64),
                         heatmap_size=(16, 16), sigma=2))
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    assert type(model).__name__ == 'SingleHandPoseEstimator'
    x = torch.rand(1, 3, 64, 64) * 255
    data = model.data_preprocessor(
        dict(inputs=x.repeat(2, 1, 1, 1),
             data_samples=_samples(64, (False, True))), False)
    with torch.no_grad():
        plain, mirrored = model.predict(data['inputs'],
                                        data['data_samples'])
    p, m = plain.pred_instances, mirrored.pred_instances
    # same network output: in input pixels x -> 63 - x, then mapped to
    # the image (scale 80 / 64 around x = 50)
    kp_in = (p.keypoints[..., 0] - 50 + 40) * 64 / 80
    np.testing.assert_allclose(
        m.keypoints[..., 0], (63 - kp_in) * 80 / 64 + 50 - 40, atol=1e-4)
    np.testing.assert_allclose(m.keypoints[..., 1], p.keypoints[..., 1],
                               atol=1e-4)
    if head == 'detnet':
        np.testing.assert_allclose(m.keypoints_3d[..., 0],
                                   -p.keypoints_3d[..., 0], atol=1e-5)
        np.testing.assert_allclose(m.keypoints_3d[..., 1:],
                                   p.keypoints_3d[..., 1:], atol=1e-5)
    else:
        assert 'keypoints_3d' not in m
