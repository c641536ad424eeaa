"""projects/rtmdet_hand_side: the config builds and runs (random weights,
nothing trained), its dataset, flip and metric, and the detector -> HDR
hand helper on it and on mmpose's single-class hand detector."""
import copy
import glob
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from hdr_mm.apis.hand_detection import (build_hand_detector, detect_hands,
                                        select_hands)
from hdr_mm.engine.runner_setup import check_config

PROJECT = 'projects/rtmdet_hand_side'
CONFIG = f'{PROJECT}/configs/rtmdet_nano_1xb16-24e_synthetic-hand-side-256.py'


def mmpose_hand_detector_config() -> str:
    """mmpose's published hand detector config (RTMDet-nano, one class
    'hand'), as its pip package ships it for the demos."""
    from mmengine.utils import get_installed_path
    return osp.join(get_installed_path('mmpose'), '.mim', 'demo',
                    'mmdetection_cfg', 'rtmdet_nano_320-8xb32_hand.py')


def _small_cfg(repo_root, root, tmp_path) -> Config:
    """The project config on the session's tiny generated dataset."""
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    root = str(root)
    cfg.synthetic_data = None
    cfg.data_root = root
    for split, key in (('train', 'train_dataloader'),
                       ('val', 'val_dataloader'),
                       ('test', 'test_dataloader')):
        loader = cfg[key]
        loader.dataset.data_root = root
        loader.dataset.split = split
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
        evaluator = cfg.get(f'{split}_evaluator')
        if evaluator:
            evaluator[0].ann_file = osp.join(root, 'coco_det',
                                             f'{split}_visible.json')
    cfg.work_dir = str(tmp_path / 'work')
    return cfg


@pytest.fixture(scope='module')
def det_root(synthetic_root, tmp_path_factory):
    """A writable copy of the generated data (the dataset adds coco_det/)."""
    import shutil
    root = tmp_path_factory.mktemp('det') / 'hands'
    shutil.copytree(synthetic_root, root)
    return root


@pytest.fixture(scope='module')
def det_checkpoint(repo_root, tmp_path_factory):
    """Random weights of the project model, saved as a checkpoint with the
    dataset meta a trained one carries."""
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('det_ckpt') / 'det.pth')
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=('right', 'left')))), path)
    return path


def test_config_checks_and_builds(repo_root, det_root, tmp_path):
    cfg = _small_cfg(repo_root, det_root, tmp_path)
    assert cfg.default_scope == 'mmdet'
    assert cfg.model.type == 'RTMDet'
    assert cfg.model.backbone.type == 'CSPNeXt'
    assert cfg.model.bbox_head.num_classes == 2
    assert cfg.train_dataloader.dataset.metainfo.classes == ('right', 'left')
    check_config(cfg)  # every type registered in the mmdet scope
    # the folders it generates: its own seed for training, the main job's
    # shared set for testing (never the same frames)
    full = Config.fromfile(osp.join(repo_root, CONFIG))
    seeds = {d['out_dir']: d['seed'] for d in full.synthetic_data}
    assert seeds[full.train_dataloader.dataset.data_root.rstrip('/')] != \
        seeds[full.test_dataloader.dataset.data_root.rstrip('/')]
    main = Config.fromfile(
        osp.join(repo_root, 'configs/_base_/datasets/synthetic_hands.py'))
    assert dict(main.synthetic_data) == {
        k: v for k, v in full.synthetic_data[1].items()}


def test_dataset_and_forward(repo_root, det_root, tmp_path):
    """Dataset -> train pipeline -> loss, and test pipeline -> predict."""
    from mmdet.registry import DATASETS, MODELS
    from mmengine.dataset import pseudo_collate
    cfg = _small_cfg(repo_root, det_root, tmp_path)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert train.metainfo['classes'] == ('right', 'left')
    assert osp.isfile(osp.join(det_root, 'coco_det', 'train_visible.json'))
    info = train.get_data_info(0)
    assert info['img_path'].startswith(
        osp.join(str(det_root), 'interhand2.6m', 'images', 'train'))
    assert {i['bbox_label'] for i in info['instances']} <= {0, 1}

    model = MODELS.build(cfg.model)
    batch = pseudo_collate([train[0], train[1]])
    data = model.data_preprocessor(batch, training=True)
    # the first epochs at half size (progressive resizing), then 256
    assert data['inputs'].shape[-2:] == (128, 128)
    assert cfg.custom_hooks[1].switch_pipeline[-2].size == (256, 256)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_cls', 'loss_bbox'} <= set(losses)
    total = sum(sum(v) if isinstance(v, list) else v
                for v in losses.values())
    assert torch.isfinite(total)

    test = DATASETS.build(cfg.test_dataloader.dataset)
    model.eval()
    with torch.no_grad():
        out = model.test_step(pseudo_collate([test[0]]))
    pred = out[0].pred_instances
    assert pred.bboxes.shape[1] == 4
    assert set(pred.labels.tolist()) <= {0, 1}
    assert 'gt_instances' in out[0]  # for HandednessMetric


def test_tools_train_and_test(repo_root, det_root, tmp_path):
    """tools/train.py and tools/test.py run the mmdet-scoped config
    (runner_setup, CocoMetric, HandednessMetric): one tiny epoch, then
    the test split."""
    cfg = _small_cfg(repo_root, det_root, tmp_path)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.train_cfg.dynamic_intervals = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint.interval = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    # an untrained model scores low: keep its boxes for CocoMetric
    cfg.model.test_cfg.score_thr = 0.0
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    env = dict(os.environ, PYTHONPATH=repo_root, OMP_NUM_THREADS='1')
    run = subprocess.run(
        [sys.executable, osp.join(repo_root, 'tools', 'train.py'), path],
        capture_output=True, text=True, cwd=repo_root, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    ckpt = osp.join(cfg.work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    run = subprocess.run(
        [sys.executable, osp.join(repo_root, 'tools', 'test.py'), path, ckpt],
        capture_output=True, text=True, cwd=repo_root, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stdout + run.stderr
    assert 'coco/bbox_mAP' in log and 'hand_side/handedness_acc' in log


@pytest.mark.parametrize('direction,swapped', [('horizontal', True),
                                               ('vertical', True),
                                               ('diagonal', False)])
def test_flip_swaps_sides(direction, swapped):
    from mmdet.structures.bbox import HorizontalBoxes

    from projects.rtmdet_hand_side.models import RandomFlipHandSide
    flip = RandomFlipHandSide(prob=1.0, direction=direction)
    results = dict(
        img=np.zeros((20, 30, 3), np.uint8),
        gt_bboxes=HorizontalBoxes(torch.tensor([[1., 2, 5, 6],
                                                [10, 2, 20, 8]])),
        gt_bboxes_labels=np.array([0, 1]), gt_ignore_flags=np.zeros(2, bool))
    out = flip(copy.deepcopy(results))
    assert out['flip'] and out['flip_direction'] == direction
    expected = [1, 0] if swapped else [0, 1]
    np.testing.assert_array_equal(out['gt_bboxes_labels'], expected)
    assert out['gt_bboxes_labels'].dtype == results['gt_bboxes_labels'].dtype
    with pytest.raises(ValueError, match='two pairs'):
        RandomFlipHandSide(prob=1.0, swap_labels=((0, 1), (1, 2)))


def test_handedness_metric():
    from projects.rtmdet_hand_side.models import HandednessMetric
    metric = HandednessMetric(score_thr=0.3, iou_thr=0.5)
    metric.dataset_meta = dict(classes=('right', 'left'))
    a, b = [10., 10, 50, 60], [60., 20, 110, 70]
    samples = [
        # both hands found with the right sides
        dict(pred_instances=dict(bboxes=torch.tensor([a, b]),
                                 scores=torch.tensor([0.9, 0.8]),
                                 labels=torch.tensor([0, 1])),
             gt_instances=dict(bboxes=torch.tensor([a, b]),
                               labels=torch.tensor([0, 1]))),
        # one hand, found with the wrong side
        dict(pred_instances=dict(bboxes=torch.tensor([a]),
                                 scores=torch.tensor([0.9]),
                                 labels=torch.tensor([1])),
             gt_instances=dict(bboxes=torch.tensor([a]),
                               labels=torch.tensor([0]))),
        # nothing found
        dict(pred_instances=dict(bboxes=torch.zeros(0, 4),
                                 scores=torch.zeros(0),
                                 labels=torch.zeros(0, dtype=torch.long)),
             gt_instances=dict(bboxes=torch.tensor([b]),
                               labels=torch.tensor([1]))),
    ]
    metric.process({}, samples)
    res = metric.compute_metrics(metric.results)
    assert res['handedness_acc'] == pytest.approx(2 / 3)
    assert res['hand_recall'] == pytest.approx(3 / 4)
    assert res['hdr_side_acc'] == pytest.approx(2 / 4)
    assert res['hdr_count_acc'] == pytest.approx(2 / 3)
    assert res['hdr_union_iou'] == pytest.approx(2 / 3)


def test_helper_on_project_detector(repo_root, synthetic_root,
                                    det_checkpoint):
    """Image -> detector -> hands, with the project's config."""
    img = sorted(
        p for p in glob.glob(
            osp.join(str(synthetic_root), 'interhand2.6m', 'images', 'test',
                     '*', '*', '*', '*.jpg')))[0]
    det = build_hand_detector(osp.join(repo_root, CONFIG), det_checkpoint)
    assert det.dataset_meta['classes'] == ('right', 'left')
    hands = detect_hands(det, img, score_thr=0.0)
    assert len(hands) <= 2
    assert set(hands.sides) <= {'right', 'left'}
    assert len(set(hands.sides)) == len(hands.sides)
    if len(hands):
        assert (hands.bboxes >= 0).all() and (hands.bboxes <= 96).all()
    # no weights is refused unless asked for; random weights keep the
    # config's class names
    with pytest.raises(ValueError, match='needs its weights'):
        build_hand_detector(osp.join(repo_root, CONFIG))
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        build_hand_detector(osp.join(repo_root, CONFIG), 'missing.pth')
    rnd = build_hand_detector(osp.join(repo_root, CONFIG),
                              allow_random_weights=True)
    assert rnd.dataset_meta['classes'] == ('right', 'left')
    # nothing above the threshold: empty, no crash
    assert detect_hands(det, img, score_thr=1.0).is_empty


def test_helper_on_mmpose_hand_detector(repo_root, synthetic_root, tmp_path,
                                        det_checkpoint):
    """mmpose's published RTMDet-nano hand detector (one class 'hand'),
    with a user's weights file: the best two boxes, side unknown. The
    weights of another detector (the project's two-class one) are
    refused."""
    from mmdet.registry import MODELS

    from hdr_mm.utils import CheckpointMismatchError
    cfg_path = mmpose_hand_detector_config()
    cfg = Config.fromfile(cfg_path)
    assert cfg.model.bbox_head.num_classes == 1
    init_default_scope('mmdet')
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    # a user's weights file: a plain state dict, no dataset meta
    weights = str(tmp_path / 'rtmdet_nano_hand.pth')
    torch.save(dict(state_dict=model.state_dict()), weights)
    det = build_hand_detector(cfg_path, weights)
    with pytest.raises(CheckpointMismatchError) as e:
        build_hand_detector(cfg_path, det_checkpoint)
    assert str(e.value).startswith(
        f'detector checkpoint {det_checkpoint} does not fit the detector of '
        f'{cfg_path}: 0 missing key(s) [], 0 unexpected key(s) [], 6 shape '
        "mismatch(es) ['bbox_head.rtm_cls.0.bias', ")
    img = np.full((240, 320, 3), 127, np.uint8)
    with torch.no_grad():
        # every prior: a valid box (2 strides each way) above the threshold
        for conv in det.bbox_head.rtm_cls:
            conv.bias.fill_(5.0)
        for conv in det.bbox_head.rtm_reg:
            conv.weight.zero_()
            conv.bias.fill_(2.0)
    hands = detect_hands(det, img, score_thr=0.3)
    assert len(hands) == 2
    assert hands.sides == ('hand', 'hand') and hands.hand_type is None
    assert (hands.bboxes[:, 2] <= 320).all() and (
        hands.bboxes[:, 3] <= 240).all()
    assert hands.union_box.shape == (4, )
    # the same detections, read as a two-class model, are not sided
    det.dataset_meta = dict(classes=('hand', ))
    assert select_hands(
        dict(bboxes=[[0, 0, 5, 5]], scores=[0.9], labels=[0]),
        det.dataset_meta['classes']).sides == ('hand', )
