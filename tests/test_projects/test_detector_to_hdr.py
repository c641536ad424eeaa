"""Image -> hand detector (projects/rtmdet_hand_side) -> HDR, on a
generated frame with no box and no joints given (random weights of every
model: nothing is trained here)."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from hdr_mm.apis import HDRInferencer
from hdr_mm.apis.hand_detection import build_hand_detector, detect_hands

DET_CONFIG = ('projects/rtmdet_hand_side/configs/'
              'rtmdet_nano_1xb16-24e_synthetic-hand-side-256.py')
HDR_CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


@pytest.fixture(scope='module')
def detector(repo_root, tmp_path_factory):
    """The project's detector with random weights, its last layers set so
    that every prior gives a valid box (distances of 2 strides) that
    passes the score threshold."""
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(repo_root, DET_CONFIG))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('det') / 'det.pth')
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=('right', 'left')))), path)
    det = build_hand_detector(osp.join(repo_root, DET_CONFIG), path)
    with torch.no_grad():
        for conv in det.bbox_head.rtm_cls:
            conv.bias.fill_(3.0)
        for conv in det.bbox_head.rtm_reg:
            conv.weight.zero_()
            conv.bias.fill_(2.0)
    return det


def test_image_to_detector_to_hdr(repo_root, synthetic_root, detector,
                                  hdr_pipeline_checkpoint):
    frame = sorted(glob.glob(osp.join(
        str(synthetic_root), 'interhand2.6m', 'images', 'test',
        'Capture0', 'synthetic_interacting', 'cam0', '*.jpg')))[0]
    hands = detect_hands(detector, frame, score_thr=0.3)
    assert len(hands) == 2 and hands.sides == ('right', 'left')
    np.testing.assert_array_equal(hands.hand_type, [1, 1])
    inferencer = HDRInferencer(
        osp.join(repo_root, HDR_CONFIG), hdr_pipeline_checkpoint,
        device='cpu')
    (res, ) = list(inferencer(frame, bboxes=[hands.to_array()],
                              return_datasamples=True))
    (sample, ) = res['predictions']
    assert sample.metainfo['box_source'] == 'bboxes'
    # HDR ran on the union of the detected hands, clipped to the extent of
    # the image's pixels ([-0.5, W - 0.5], hdr_mm.apis.two_hand_box)
    h, w = cv2.imread(frame).shape[:2]
    expected = np.clip(hands.union_box, -0.5, [w - 0.5, h - 0.5] * 2)
    np.testing.assert_allclose(sample.gt_instances.bboxes[0], expected,
                               atol=1e-3)
    inst = sample.pred_instances
    assert inst.keypoints.shape[1:] == (42, 3)
    assert np.isfinite(inst.keypoints).all()


def test_no_hand_detected_is_empty(synthetic_root, detector):
    frame = sorted(glob.glob(osp.join(
        str(synthetic_root), 'interhand2.6m', 'images', 'test', '*', '*',
        '*', '*.jpg')))[0]
    # called from HDR's scope: the detector's pipeline is still mmdet's
    init_default_scope('mmpose')
    hands = detect_hands(detector, frame, score_thr=1.0)
    assert hands.is_empty and hands.union_box is None
