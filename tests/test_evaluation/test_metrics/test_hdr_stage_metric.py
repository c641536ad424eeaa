import math

import numpy as np
import pytest
import torch

from hdr_mm.evaluation.metrics import HDRStageMetric

NAMES = ('l_amodal', 'l_visible', 'r_amodal', 'r_visible')


def _crop_masks(c, hidden_t=(), hidden_o=()):
    """(2, 4, c, c) ``[A_t, V_t, A_o, V_o]`` whose target's hidden part
    ``H_t`` and other hand ``H_o`` are the given rows."""
    m = torch.zeros(2, 4, c, c, dtype=torch.uint8)
    m[:, 0, hidden_t] = 1  # A_t, nowhere visible
    m[:, 2, hidden_o] = 1  # A_o outside A_t
    return m


def _sample(pred_masks, gt_masks, out, gt, crop_masks, found=(1, 1),
            valid=(True, True)):
    """A pipeline output whose hand crops are its whole context window
    (identity warps), so that each hand's render cut like its crop is
    ``gt`` (2, 3, c, c)."""
    return dict(
        img_path='x.jpg',
        mask_names=NAMES,
        pred_fields=dict(hand_masks=pred_masks),
        gt_fields=dict(hand_masks=gt_masks),
        pred_instances=dict(hand_type=np.array([found], np.float32)),
        gt_alone_valid=np.array(valid),
        gt_alone_context=gt.flatten(0, 1),
        hand_crop_warps=torch.eye(2, 3).repeat(2, 1, 1),
        hand_crop_mask_warps=torch.eye(2, 3).repeat(2, 1, 1),
        hand_crop_masks=crop_masks,
        tdr_crops=out)


def test_iou_and_psnr_on_hand_made_values():
    s, c = 4, 16
    gt_masks = torch.zeros(4, s, s, dtype=torch.uint8)
    gt_masks[:, :2] = 1  # every mask: top half, 8 pixels
    pred_masks = torch.zeros(4, s, s, dtype=torch.uint8)
    pred_masks[:, :1] = 1  # top quarter: IoU 4 / 8
    gt = torch.full((2, 3, c, c), 100, dtype=torch.uint8)
    out = gt.clone()
    out[:, :, :4] += 10  # error 10 on the repaint region, 0 elsewhere
    repaint = _crop_masks(c, hidden_t=slice(0, 4))
    metric = HDRStageMetric(mask_names=NAMES)
    metric.process({}, [_sample(pred_masks, gt_masks, out, gt, repaint)])
    res = metric.compute_metrics(metric.results)
    assert res['mask/mIoU'] == pytest.approx(0.5)
    assert res['mask/IoU_r_amodal'] == pytest.approx(0.5)
    # amodal == visible everywhere: no hidden pixel at all
    assert math.isnan(res['mask/IoU_r_hidden'])
    # MSE 100 in the repaint region; a quarter of the crop overall
    assert res['repaint/psnr'] == pytest.approx(10 * math.log10(255**2 / 100))
    assert res['crop/psnr'] == pytest.approx(10 * math.log10(255**2 / 25))
    assert res['repaint/l1'] == pytest.approx(10)
    assert res['repaint/count'] == 2


def test_deocclusion_and_removal_holes():
    c = 16
    gt = torch.full((2, 3, c, c), 100, dtype=torch.uint8)
    out = gt.clone()
    out[:, :, :4] += 20  # hidden part of the target: error 20
    out[:, :, 4:8] += 5  # the other hand: error 5
    holes = _crop_masks(c, hidden_t=slice(0, 4), hidden_o=slice(4, 8))
    m = torch.ones(4, 2, 2, dtype=torch.uint8)
    sample = _sample(m, m, out, gt, holes)
    metric = HDRStageMetric(mask_names=NAMES)
    metric.process({}, [sample])
    res = metric.compute_metrics(metric.results)
    assert res['deocc/psnr'] == pytest.approx(10 * math.log10(255**2 / 400))
    assert res['removal/psnr'] == pytest.approx(
        10 * math.log10(255**2 / 25))
    assert res['deocc/count'] == res['removal/count'] == 2


def test_true_parts_are_scored_in_the_ground_truth_masks():
    """The ``true_*`` regions come from the ground-truth masks cut like
    HASM's, not from the holes TDR was given (here larger)."""
    c = 8
    gt_masks = torch.zeros(4, c, c, dtype=torch.uint8)  # NAMES order
    gt_masks[2, 0:4] = 1  # r_amodal: rows 0-3
    gt_masks[3, 2:4] = 1  # r_visible: rows 2-3, so rows 0-1 are hidden
    gt_masks[0, 0:2] = 1  # l_amodal = l_visible: rows 0-1, on top
    gt_masks[1, 0:2] = 1
    gt = torch.full((2, 3, c, c), 100, dtype=torch.uint8)
    out = gt.clone()
    out[:, :, 0:2] += 20  # the right hand's hidden part: error 20
    out[:, :, 2:4] += 5  # rows 2-3: error 5
    # the holes TDR was given: rows 0-3 hidden for both hands
    holes = _crop_masks(c, hidden_t=slice(0, 4))
    metric = HDRStageMetric(mask_names=NAMES)
    metric.process({}, [_sample(gt_masks, gt_masks, out, gt, holes)])
    res = metric.compute_metrics(metric.results)
    # right hand: really hidden rows 0-1; the left hand hides nothing
    assert res['true_deocc/count'] == 1
    assert res['true_deocc/psnr'] == pytest.approx(
        10 * math.log10(255**2 / 400))
    # the left hand's other hand (the right) outside it: rows 2-3
    assert res['true_removal/count'] == 1
    assert res['true_removal/psnr'] == pytest.approx(
        10 * math.log10(255**2 / 25))
    # the given holes, rows 0-3 of both hands: MSE (400 + 25) / 2
    assert res['deocc/count'] == 2
    assert res['deocc/psnr'] == pytest.approx(
        10 * math.log10(255**2 / 212.5))


def test_true_crop_masks_follow_the_mask_warps():
    """The right hand's masks shifted 2 px left, the left hand's mirrored
    and ordered with the left hand as the target."""
    c = 8
    gt_masks = torch.zeros(4, c, c, dtype=torch.uint8)
    gt_masks[2, :, 4:] = 1  # r_amodal: right half
    gt_masks[0, :, :2] = 1  # l_amodal: two left columns
    shift = torch.tensor([[1., 0, -2], [0, 1, 0]])
    mirror = torch.tensor([[-1., 0, c - 1], [0, 1, 0]])
    sample = dict(gt_fields=dict(hand_masks=gt_masks),
                  hand_crop_mask_warps=torch.stack([shift, mirror]),
                  tdr_crops=torch.zeros(2, 3, c, c))
    (cut, ) = HDRStageMetric.true_crop_masks([sample], NAMES)
    assert cut.shape == (2, 4, c, c)
    assert cut[0, 0].equal(gt_masks[2].roll(-2, -1).float())  # A_t right
    assert cut[0, 2, :, :6].equal(gt_masks[0, :, 2:].float())  # A_o left
    assert cut[1, 0].equal(gt_masks[0].flip(-1).float())  # A_t left
    assert cut[1, 2].equal(gt_masks[2].flip(-1).float())  # A_o right


def test_only_found_hands_of_two_hand_frames_are_scored():
    m = torch.ones(4, 2, 2, dtype=torch.uint8)
    crops = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    rep = _crop_masks(16, hidden_t=slice(0, 16))
    metric = HDRStageMetric(mask_names=NAMES)
    metric.process({}, [
        _sample(m, m, crops, crops, rep, found=(1, 0)),
        _sample(m, m, crops, crops, rep, valid=(False, True)),
    ])
    res = metric.compute_metrics(metric.results)
    assert res['repaint/count'] == 1  # the found hand of the first frame
    assert res['mask/mIoU'] == 1.0


def test_reference_crops_are_cut_like_the_hand_crops():
    """A render cut by a warp that shifts it 2 px left and mirrors the
    left hand."""
    c = 8
    right = torch.arange(3 * c * c, dtype=torch.uint8).view(3, c, c)
    left = 255 - right
    shift = torch.tensor([[1., 0, -2], [0, 1, 0]])
    mirror = torch.tensor([[-1., 0, c - 1], [0, 1, 0]])
    sample = dict(gt_alone_context=torch.cat([right, left]),
                  hand_crop_warps=torch.stack([shift, mirror]),
                  tdr_crops=torch.zeros(2, 3, c, c))
    (ref, ) = HDRStageMetric.reference_crops([sample])
    assert ref.dtype == torch.uint8 and ref.shape == (2, 3, c, c)
    assert ref[0, :, :, :c - 2].equal(right[:, :, 2:])
    assert not ref[0, :, :, c - 2:].any()  # outside the render: zeros
    assert ref[1].equal(left.flip(-1))


def test_missing_targets_are_named():
    metric = HDRStageMetric()
    with pytest.raises(KeyError, match='LoadHDRTargets'):
        metric.process({}, [dict(img_path='frame.jpg', pred_fields={})])
