"""SingleHandPoseEstimator un-mirrors the predictions of mirrored crops,
for HDR's DetNet SHPE and for a stock mmpose head alike; its inference
entry ``estimate_joints`` is mmpose's top-down path on hand crops."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

CONFIG = 'configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py'
SIDE = 96  # the config's crop side


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


def _model(head='detnet'):
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG).model
    if head == 'heatmap':  # a stock 2D mmpose head on the same trunk
        cfg.head = dict(
            type='HeatmapHead', in_channels=64, out_channels=21,
            deconv_out_channels=None,
            decoder=dict(type='MSRAHeatmap', input_size=(SIDE, SIDE),
                         heatmap_size=(SIDE // 4, SIDE // 4), sigma=2))
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


@pytest.mark.parametrize('head', ['detnet', 'heatmap'])
def test_mirrored_crops_are_unmirrored(head):
    model = _model(head)
    assert type(model).__name__ == 'SingleHandPoseEstimator'
    x = torch.rand(1, 3, SIDE, SIDE) * 255
    data = model.data_preprocessor(
        dict(inputs=x.repeat(2, 1, 1, 1),
             data_samples=_samples(SIDE, (False, True))), False)
    with torch.no_grad():
        plain, mirrored = model.predict(data['inputs'],
                                        data['data_samples'])
    p, m = plain.pred_instances, mirrored.pred_instances
    # same network output: in input pixels x -> SIDE - 1 - x, then mapped
    # to the image (scale 80 / SIDE around x = 50)
    kp_in = (p.keypoints[..., 0] - 50 + 40) * SIDE / 80
    np.testing.assert_allclose(
        m.keypoints[..., 0], (SIDE - 1 - kp_in) * 80 / SIDE + 50 - 40,
        atol=1e-4)
    np.testing.assert_allclose(m.keypoints[..., 1], p.keypoints[..., 1],
                               atol=1e-4)
    if head == 'detnet':
        np.testing.assert_allclose(m.keypoints_3d[..., 0],
                                   -p.keypoints_3d[..., 0], atol=1e-5)
        np.testing.assert_allclose(m.keypoints_3d[..., 1:],
                                   p.keypoints_3d[..., 1:], atol=1e-5)
    else:
        assert 'keypoints_3d' not in m


def _entry_args(n=2):
    g = torch.Generator().manual_seed(1)
    images = torch.rand(n, 3, SIDE, SIDE, generator=g) * 255
    centers = torch.tensor([[50., 40.], [120., 60.]])[:n]
    sides = torch.tensor([80., 64.])[:n]
    mirrored = torch.tensor([False, True])[:n]
    return images, centers, sides, mirrored


@pytest.mark.parametrize('head', ['detnet', 'heatmap'])
def test_entry_is_mmposes_top_down_path(head):
    """estimate_joints = the model's data preprocessor and predict on
    top-down samples of the crops."""
    model = _model(head)
    images, centers, sides, mirrored = _entry_args()
    preds = model.estimate_joints(images, centers, sides, mirrored,
                                  np.array([90., 0.], np.float32))
    samples = []
    for c, s, m in zip(centers.numpy(), sides.numpy(), mirrored.numpy()):
        sample = _samples(SIDE, (bool(m), ))[0]
        sample.set_metainfo(dict(input_center=c,
                                 input_scale=np.array([s, s])))
        samples.append(sample)
    samples[1].gt_instance_labels.ref_bone_length = torch.tensor([0.])
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples),
                                   False)
    with torch.no_grad():
        ref = model.predict(data['inputs'], samples)
    assert len(preds) == 2
    for p, r in zip(preds, ref):
        np.testing.assert_array_equal(p.keypoints, r.pred_instances.keypoints)
        np.testing.assert_array_equal(p.keypoint_scores,
                                      r.pred_instances.keypoint_scores)
        assert ('keypoints_3d' in p) == (head == 'detnet')


def test_bone_length_is_the_entrys_option():
    """'gt' scales by the given length (the fallback where it is 0), a
    number ignores the given lengths; the read-out option is the SHPE's
    own test_cfg."""
    model = _model()
    args = _entry_args()
    bones = np.array([90., 0.], np.float32)
    model.set_bone_length('gt', 60.)
    assert model.test_cfg['bone_length'] == 'gt'
    gt = model.estimate_joints(*args, bones)
    assert [float(p.bone_length_mm[0]) for p in gt] == [90., 60.]
    unknown = model.estimate_joints(*args)
    assert [float(p.bone_length_mm[0]) for p in unknown] == [60., 60.]
    np.testing.assert_allclose(gt[0].keypoints_3d,
                               unknown[0].keypoints_3d * 1.5, rtol=1e-5)
    model.set_bone_length(100.)
    const = model.estimate_joints(*args, bones)
    assert [float(p.bone_length_mm[0]) for p in const] == [100., 100.]
    assert model.test_cfg['bone_length_mm'] == 60.  # kept
    with pytest.raises(ValueError, match="'gt' or a number"):
        model.set_bone_length('avg')


def test_entry_runs_another_network():
    """A backend's network (here the model's own maps, computed outside)
    gives the same joints; a head that cannot read maps refuses one."""
    model = _model()
    args = _entry_args()
    calls = []

    def maps(x):
        calls.append(x.shape)
        return model.head.forward(model.extract_feat(x))

    own = model.estimate_joints(*args)
    other = model.estimate_joints(*args, network=maps)
    assert calls == [(2, 3, SIDE, SIDE)]
    for a, b in zip(own, other):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-5)
        np.testing.assert_allclose(a.keypoints_3d, b.keypoints_3d,
                                   atol=1e-4)
    stock = _model('heatmap')
    with pytest.raises(ValueError, match='HeatmapHead cannot read maps'):
        stock.estimate_joints(*args, network=maps)
    with pytest.raises(ValueError, match='HeatmapHead cannot read maps'):
        stock.export_onnx('never_written.onnx', SIDE)


@pytest.mark.parametrize('head', ['detnet', 'heatmap'])
def test_bf16_keeps_the_read_out_float32(head):
    """bf16 inference keeps DetNet's named read-out layers float32 and a
    stock head whole (mmpose decodes its outputs with numpy, which has
    no bfloat16); the joints are those of float32 within a cell."""
    from hdr_mm.models.utils import (inference_autocast,
                                     prepare_for_inference)
    from hdr_mm.models.utils.precision import is_kept_fp32
    ref, model = _model(head), _model(head)
    prepare_for_inference(model, 'bf16')
    assert is_kept_fp32(model.head) == (head == 'heatmap')
    args = _entry_args()
    with inference_autocast('bf16'):
        preds = model.estimate_joints(*args)
    for p, r in zip(preds, ref.estimate_joints(*args)):
        assert p.keypoints.dtype == np.float32
        # random weights: flat maps with near-ties, so most joints
        # (input pixels, a heat-map cell is 4)
        dist = np.linalg.norm(p.keypoints - r.keypoints, axis=-1)
        assert np.mean(dist <= 4.0) >= 0.8
