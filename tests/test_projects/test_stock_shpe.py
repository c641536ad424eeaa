"""projects/stock_shpe: a stock mmpose 2D hand model (RTMPose-t) as HDR's
SHPE, built from the project's configs with untrained weights: 2D outputs,
un-mirrored left hands, SHPE input sizes other than TDR's, mmpose's stock
config used as it is."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.registry import METRICS, MODELS

from hdr_mm.structures import crop_warp_matrix, warp_to_crop

PROJECT = 'projects/stock_shpe/configs/'
HDR_CONFIG = PROJECT + 'hdr_rtmpose-t_tiny_synthetic-256x256.py'
SHPE_CONFIG = PROJECT + 'rtmpose-t_1xb32-20e_synthetic-hands-128x128.py'
HDR_HEATMAP_CONFIG = (PROJECT +
                      'hdr_td-hm-mobilenetv2-w0.5_tiny_synthetic-256x256.py')
SHPE_HEATMAP_CONFIG = (
    PROJECT + 'td-hm_mobilenetv2-w0.5_1xb32-30e_synthetic-hands-128x128.py')


@pytest.fixture(scope='module')
def pipeline(tiny_pipeline):
    return tiny_pipeline(HDR_CONFIG)


@pytest.fixture(scope='module')
def cfg(pipeline):
    return pipeline[0]


@pytest.fixture(scope='module')
def model(pipeline):
    return pipeline[1]


@pytest.fixture(scope='module')
def batch(pipeline):
    return pipeline[2]


def test_shpe_is_the_stock_rtmpose(model):
    shpe = model.shpe
    assert type(shpe).__name__ == 'SingleHandPoseEstimator'
    assert type(shpe.backbone).__name__ == 'CSPNeXt'
    assert type(shpe.head).__name__ == 'RTMCCHead'
    assert shpe.cfg.codec.type == 'SimCCLabel'
    # the crops are cut at the SHPE's size; TDR runs at its own
    assert model.shpe_size == 128 and model.tdr_size == 64


def test_2d_outputs_and_metric(cfg, model, batch):
    out = model.test_step(copy.deepcopy(batch))
    s = model.shpe_size
    for sample in out:
        pred = sample.pred_instances
        assert pred.keypoints.shape == (1, 42, 2)
        assert 'keypoints_3d' not in pred
        assert pred.keypoint_scores.shape == (1, 42)
        assert np.isfinite(pred.keypoints).all()
        # no 3D: no wrist placed in the camera frame, no root offset
        assert np.isnan(pred.root_cam).all()
        assert not pred.rel_root_3d.any() and pred.rel_root_depth[0] == 0
        assert sample.hand_crops.shape == (2, 3, s, s)
        assert sample.tdr_crops.shape == (2, 3, s, s)
    # TDR (64 px) repaints the 128 px crops
    assert any(not o.tdr_crops.equal(o.hand_crops) for o in out)
    # the project's evaluators run on these outputs
    for evaluator in cfg.test_evaluator:
        metric = METRICS.build(evaluator)
        metric.process(None, [o.to_dict() for o in out])
        res = metric.compute_metrics(metric.results)
        assert res
    assert set(res) >= {'mask/mIoU'}


def _frame_with_dots(cfg):
    """A black frame with a white 3x3 dot inside each hand's box, run
    through the inference pipeline, and the hands' masks in the image."""
    img = np.zeros((200, 260, 3), np.uint8)
    dots = dict(right=(75, 130), left=(185, 128))
    for x, y in dots.values():
        img[y - 1:y + 2, x - 1:x + 2] = 255
    r = np.zeros(img.shape[:2], np.uint8)
    r[100:160, 60:110] = 1
    lft = np.zeros_like(r)
    lft[100:160, 150:200] = 1
    masks = dict(r_amodal=r, r_visible=r, l_amodal=lft, l_visible=lft)
    init_default_scope('mmpose')
    sample = Compose(cfg.infer_pipeline)(dict(
        img=img, img_path='dots.jpg',
        bbox=np.array([[59.5, 99.5, 199.5, 159.5]], np.float32),
        bbox_score=np.ones(1, np.float32)))
    return sample, masks, dots


def test_left_hands_are_unmirrored(cfg, model, monkeypatch):
    """A stand-in SHPE head that 'detects' the brightest pixel of its input
    crop: each hand's joints must come back on that hand's dot in the
    image, the left hand's through the mirrored crop and
    SingleHandPoseEstimator's un-mirroring."""
    sample, masks_img, dots = _frame_with_dots(cfg)
    meta = sample['data_samples'].metainfo
    size = meta['input_size'][0]
    mat = crop_warp_matrix(meta['input_center'], meta['input_scale'][0],
                           size)
    masks = torch.from_numpy(np.stack([
        warp_to_crop(masks_img[n], mat, size, 'nearest')
        for n in model.mask_names
    ]).astype(np.float32))[None]
    monkeypatch.setattr(model.hasm, 'predict_masks',
                        lambda imgs, *args: masks.to(imgs))
    monkeypatch.setattr(model.shpe, 'extract_feat', lambda inputs: inputs)
    seen = []

    def brightest(feats, samples, test_cfg=None):
        preds = []
        for crop, s in zip(feats, samples):
            seen.append(bool(s.metainfo['mirrored']))
            flat = int(crop.sum(0).argmax())
            w = crop.shape[-1]
            kpt = np.tile([[flat % w, flat // w]], (1, 21, 1))
            preds.append(InstanceData(
                keypoints=kpt.astype(np.float32),
                keypoint_scores=np.ones((1, 21), np.float32)))
        return preds

    monkeypatch.setattr(model.shpe.head, 'predict', brightest)
    model.use_tdr = False  # TDR would paint over the other hand's dot
    try:
        out = model.test_step(pseudo_collate([sample]))[0]
    finally:
        model.use_tdr = True
    assert seen == [False, True]  # right crop as it is, left mirrored
    pred = out.pred_instances
    np.testing.assert_array_equal(pred.hand_type, [[1, 1]])
    # one crop pixel is about 1 image pixel here (120 px box x2 -> 128)
    for h, side in enumerate(('right', 'left')):
        np.testing.assert_allclose(
            pred.keypoints[0, 21 * h:21 * (h + 1)],
            np.tile([dots[side]], (21, 1)), atol=1.5)
    # and the left crop the SHPE saw was mirrored: the dot, right of the
    # left hand's centre in the image, is left of the crop's centre
    lcrop = out.hand_crops[1].float().sum(0)
    x = int(lcrop.argmax()) % lcrop.shape[-1]
    assert x < lcrop.shape[-1] / 2 - 5


def _shpe_at(size: int) -> dict:
    """cfg_options that set the project's SHPE to another input size."""
    return {
        'input_size': (size, size),
        'codec.input_size': (size, size),
        'model.head.input_size': (size, size),
        'model.head.in_featuremap_size': (size // 32, size // 32),
        'model.head.decoder.input_size': (size, size),
    }


def test_shpe_input_size_other_than_tdrs(cfg, batch):
    """Crops are cut at whatever size the SHPE config states (96 here,
    128 in the project, TDR at 64): TDR resizes internally."""
    init_default_scope('mmpose')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.shpe.cfg_options = _shpe_at(96)
    model = MODELS.build(model_cfg).eval()
    assert (model.shpe_size, model.tdr_size) == (96, 64)
    out = model.test_step(copy.deepcopy(batch))
    for sample in out:
        assert sample.hand_crops.shape == (2, 3, 96, 96)
        assert sample.tdr_crops.shape == (2, 3, 96, 96)
        assert sample.pred_instances.keypoints.shape == (1, 42, 2)
    assert any(not o.tdr_crops.equal(o.hand_crops) for o in out)


def test_input_size_disagreeing_with_codec_is_refused(cfg):
    """Only `input_size` changed: the model would decode at 128 while HDR
    maps back at 96 -- refused, naming both."""
    init_default_scope('mmpose')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.shpe.cfg_options = {'input_size': (96, 96)}
    with pytest.raises(ValueError, match='codec.input_size'):
        MODELS.build(model_cfg)


def test_mmpose_stock_config_as_it_is(cfg, batch, repo_root):
    """mmpose's own MobileNetV2 hand config file, untouched, as SHPE: only
    cfg_options (the SHPE class, no flip test, no download); its crop size
    comes from its codec (256, no top-level input_size)."""
    import mmpose
    stock = osp.join(
        osp.dirname(mmpose.__file__), '.mim', 'configs', 'hand_2d_keypoint',
        'topdown_heatmap', 'onehand10k',
        'td-hm_mobilenetv2_8xb64-210e_onehand10k-256x256.py')
    if not osp.isfile(stock):
        pytest.skip('mmpose was installed without its configs')
    assert 'input_size' not in Config.fromfile(stock)
    init_default_scope('mmpose')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.shpe = dict(
        config=stock,
        cfg_options={
            'model.type': 'SingleHandPoseEstimator',
            'model.test_cfg.flip_test': False,
            'model.backbone.init_cfg': None,
        })
    model = MODELS.build(model_cfg).eval()
    assert model.shpe_size == 256
    out = model.test_step(pseudo_collate([_first(batch)]))
    assert out[0].pred_instances.keypoints.shape == (1, 42, 2)
    assert out[0].hand_crops.shape == (2, 3, 256, 256)


def _first(batch):
    """The first frame of a collated batch, uncollated."""
    return dict(inputs={k: v[0] for k, v in batch['inputs'].items()},
                data_samples=copy.deepcopy(batch['data_samples'][0]))


def test_heatmap_shpe_pipeline(synthetic_root, batch):
    """The second stock model, a top-down heat-map one, through its own
    pipeline config: the same 2D outputs."""
    cfg = Config.fromfile(HDR_HEATMAP_CONFIG)
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model).eval()
    assert type(model.shpe.head).__name__ == 'HeatmapHead'
    assert type(model.shpe.backbone).__name__ == 'MobileNetV2'
    assert model.shpe_size == 128
    out = model.test_step(pseudo_collate([_first(batch)]))
    assert out[0].pred_instances.keypoints.shape == (1, 42, 2)
    assert 'keypoints_3d' not in out[0].pred_instances


@pytest.mark.parametrize('config', [SHPE_CONFIG, SHPE_HEATMAP_CONFIG])
def test_project_shpe_configs_train_on_single_hand_renders(config):
    """The SHPE configs are mmpose's stock configs with the project's
    changes: smaller, from scratch, SingleHand3DDataset on the renders of
    each hand alone, right hands only (no RandomFlip)."""
    shpe = Config.fromfile(config)
    assert shpe.model.type == 'SingleHandPoseEstimator'
    assert shpe.model.backbone.init_cfg is None
    assert shpe.model.test_cfg.flip_test is False
    assert tuple(shpe.input_size) == tuple(shpe.codec.input_size) == (128,
                                                                      128)

    def unscoped(codec):
        return {k: v for k, v in codec.items() if k != '_scope_'}

    assert unscoped(shpe.model.head.decoder) == unscoped(shpe.codec)
    train = shpe.train_dataloader.dataset
    assert train.type == 'SingleHand3DDataset'
    assert train.alone_img_prefix == 'images_alone/train/'
    types = [t['type'] for t in train.pipeline]
    assert 'RandomFlip' not in types and 'MirrorHandCrop' in types
    assert types.index('MirrorHandCrop') < types.index('GenerateTarget')
    assert shpe.test_dataloader.dataset.alone_img_prefix is None


def test_bootstrap_gain_tool(repo_root):
    """The project's comparison of two per-frame files: point values are
    the metrics', the paired intervals hold them."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'bootstrap_gain',
        osp.join(repo_root, 'projects/stock_shpe/tools/bootstrap_gain.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    rng = np.random.default_rng(0)
    n = 30
    count = np.full(n, 42)
    alone = dict(frames=np.arange(n).astype(str),
                 interacting=np.arange(n) % 5 > 0,
                 EPE_sum=rng.uniform(8, 12, n) * 42, EPE_count=count,
                 PCK_fail=rng.integers(10, 20, n), PCK_count=count,
                 hands=np.full(n, 2), missed=np.zeros(n, int))
    hdr = dict(alone, EPE_sum=alone['EPE_sum'] * 0.8,
               PCK_fail=alone['PCK_fail'] - 5)
    res = tool.compare(alone, hdr, num_samples=500)
    inter = res['interacting']
    assert inter['frames'] == 24
    assert inter['epe_gain']['gain'] == pytest.approx(0.2)
    assert inter['pck_gain']['mean'] == pytest.approx(5 / 42)
    keep = alone['interacting']
    assert inter['pck_alone']['mean'] == pytest.approx(
        1 - alone['PCK_fail'][keep].sum() / (42 * 24))
    for key in ('epe_alone', 'pck_alone', 'pck_gain', 'epe_diff'):
        assert inter[key]['low'] <= inter[key]['mean'] <= inter[key]['high']
    assert '| interacting (24, 48; 0) |' in tool.table(res)
    with pytest.raises(ValueError, match='different frames'):
        tool.compare(alone, dict(hdr, frames=alone['frames'][::-1]))


def test_stock_shpe_reads_the_whole_crop(cfg, model):
    """The stock SHPEs train on the amodal box x2, the pipeline's own
    padding: they get the whole hand crop (no window)."""
    shpe_cfg = Config.fromfile(SHPE_CONFIG)
    (step, ) = [t for t in shpe_cfg.train_pipeline
                if t.type == 'GetBBoxCenterScale']
    assert step.padding == model.hand_padding == model.shpe_padding
    assert model.crop_size == model.shpe_size
