"""The HDR pipeline model with untrained stages: outputs, faithful hand
crops, batching, absent hands."""
import copy

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmpose.registry import MODELS

from hdr_mm.evaluation.metrics import HDRStageMetric
from hdr_mm.models.hdr import StageCheckpointError, resolve_shpe_input
from hdr_mm.models.hdr.hand_placement import place_hands as _place_hands
from hdr_mm.models.hdr.stage_builder import combine_stage_checkpoints
from hdr_mm.structures import (TDR_MASK_NAMES, crop_warp_matrix,
                               square_crop_cs, tdr_masks, warp_to_crop)
from hdr_mm.structures.hand_crops import cut_hands, locate_hands

CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'
REAL_FRAME = 'tests/data/interhand2.6m/image2017.jpg'


@pytest.fixture(scope='module')
def pipeline(tiny_pipeline):
    return tiny_pipeline(CONFIG)


@pytest.fixture(scope='module')
def cfg(pipeline):
    return pipeline[0]


@pytest.fixture(scope='module')
def model(pipeline):
    return pipeline[1]


@pytest.fixture(scope='module')
def batch(pipeline):
    return pipeline[2]


def _run(model, batch):
    return model.test_step(copy.deepcopy(batch))


def _frame(cfg, img, bbox, name='frame.jpg'):
    """One image through the inference pipeline."""
    init_default_scope('mmpose')
    return Compose(cfg.infer_pipeline)(dict(
        img=img, img_path=name, bbox=np.asarray([bbox], np.float32),
        bbox_score=np.ones(1, np.float32)))


def _masks_on_crop(sample, masks_img, names):
    """(1, 4, S, S) HASM-like masks of the two-hand crop from masks drawn
    in the image."""
    meta = sample.metainfo
    s = meta['input_size'][0]
    mat = crop_warp_matrix(meta['input_center'], meta['input_scale'][0], s)
    return torch.from_numpy(np.stack([
        warp_to_crop(masks_img[n], mat, s, 'nearest') for n in names
    ]).astype(np.float32))[None]


def test_outputs_in_mmpose_3d_hand_layout(model, batch):
    out = _run(model, batch)
    assert len(out) == len(batch['data_samples'])
    s = model.crop_size
    for sample in out:
        pred = sample.pred_instances
        assert pred.keypoints.shape == (1, 42, 3)
        assert pred.keypoints_3d.shape == (1, 42, 3)
        assert pred.keypoint_scores.shape == (1, 42)
        assert pred.hand_type.shape == (1, 2)
        assert pred.hand_bboxes.shape == (1, 2, 4)
        assert pred.root_cam.shape == (1, 2, 3)
        assert pred.rel_root_3d.shape == (1, 3)
        assert pred.rel_root_depth.shape == (1, )
        assert np.isfinite(pred.keypoints).all()
        # each hand's 3D joints are relative to its own wrist (index 20),
        # and z of `keypoints` is that relative depth
        for h in range(2):
            if pred.hand_type[0, h]:
                np.testing.assert_allclose(
                    pred.keypoints_3d[0, 21 * h + 20], 0, atol=1e-4)
        np.testing.assert_array_equal(pred.keypoints[..., 2],
                                      pred.keypoints_3d[..., 2])
        if np.isfinite(pred.root_cam).all():  # both hands placed
            np.testing.assert_allclose(
                pred.rel_root_3d[0], pred.root_cam[0, 1] - pred.root_cam[0,
                                                                         0])
            assert pred.rel_root_depth[0] == pred.rel_root_3d[0, 2]
        assert sample.pred_fields.hand_masks.shape == (4, 96, 96)
        assert sample.tdr_crops.shape == (2, 3, s, s)
        assert sample.hand_crop_masks.shape == (2, 4, s, s)
        assert sample.hand_crop_masks.dtype == torch.uint8
        assert sample.hand_crop_warps.shape == (2, 2, 3)
        # inference only: the ground truth is left to the metric
        assert 'gt_hand_crops' not in sample and 'repaint' not in sample


def test_bypassing_tdr_feeds_the_raw_crops(model, batch):
    model.use_tdr = False
    try:
        out = _run(model, batch)
    finally:
        model.use_tdr = True
    for sample in out:
        assert sample.tdr_crops.equal(sample.hand_crops)
    out_tdr = _run(model, batch)
    changed = [not a.tdr_crops.equal(a.hand_crops) for a in out_tdr]
    assert any(changed)
    # TDR only paints inside the dilated repaint region
    k = model.tdr.dilate_kernel
    for sample in out_tdr:
        repaint = tdr_masks(*sample.hand_crop_masks.split(1, 1))['repaint']
        grown = torch.nn.functional.max_pool2d(
            repaint.float(), k, 1, k // 2) > 0
        diff = (sample.tdr_crops.int() - sample.hand_crops.int()).abs()
        assert (diff * ~grown).max() <= 1  # rounding only


def test_ceiling_feeds_shpe_the_hands_rendered_alone(model, batch,
                                                    monkeypatch):
    """shpe_input='gt_alone': SHPE gets exactly each hand rendered alone,
    cut like its crop (the ground truth a perfect TDR would give), and
    TDR does not run."""
    fed = []
    estimate = model.shpe.estimate_joints

    def spy(images, *args):
        fed.append(images.clone())
        return estimate(images, *args)

    def no_tdr(*args, **kwargs):
        raise AssertionError('TDR ran')

    monkeypatch.setattr(model.shpe, 'estimate_joints', spy)
    monkeypatch.setattr(model.tdr, 'inpaint', no_tdr)
    monkeypatch.setattr(model, 'shpe_input', 'gt_alone')
    assert not model.use_tdr
    out = _run(model, batch)
    (images, ) = fed
    n = len(out)
    # what HDRStageMetric compares with: the same renders, cut alike
    refs = HDRStageMetric.reference_crops([s.to_dict() for s in out])
    alone = torch.stack(refs, 1).flatten(0, 1)
    # rows right_0..right_N-1, left_0..left_N-1 as the SHPE batch
    assert images.shape == (2 * n, 3, model.shpe_size, model.shpe_size)
    lo = (model.crop_size - model.shpe_size) // 2
    hi = lo + model.shpe_size
    assert images.round().byte().equal(alone[..., lo:hi, lo:hi])
    for sample, ref in zip(out, refs):
        assert sample.tdr_crops.equal(ref)
    assert any(not s.hand_crops.equal(ref) for s, ref in zip(out, refs))


def test_shpe_sees_the_hand_at_its_own_padding(model, batch, monkeypatch):
    """shpe_padding 1.5 with hand_padding 2.0: the hands are cut at 4/3
    of the SHPE's side and SHPE gets the centre window, the same pixels
    and the same box (centre, side in image pixels) as a crop cut
    directly at 1.5x the amodal box."""
    assert (model.hand_padding, model.shpe_padding) == (2.0, 1.5)
    assert model.crop_size * 3 == model.shpe_size * 4
    fed = []
    estimate = model.shpe.estimate_joints

    def spy(images, centers, sides, *args):
        fed.append((images.clone(), centers.clone(), sides.clone()))
        return estimate(images, centers, sides, *args)

    monkeypatch.setattr(model.shpe, 'estimate_joints', spy)
    monkeypatch.setattr(model, 'shpe_input', 'crop')
    data = model.data_preprocessor(copy.deepcopy(batch), False)
    model.predict(data['inputs'], data['data_samples'])
    ((images, centers, sides), ) = fed
    masks = model.hasm.predict_masks(data['inputs']['img'], model.hasm_size)
    metas = [s.metainfo for s in data['data_samples']]
    direct = locate_hands(masks, model.mask_names, metas, model.shpe_size,
                          padding=1.5)
    ref = cut_hands(data['inputs']['context'], masks, model.mask_names,
                    direct, model.shpe_size)['images']
    np.testing.assert_allclose(centers, direct.centers, atol=1e-4)
    np.testing.assert_allclose(sides, direct.sides, rtol=1e-5)
    assert images.shape == ref.shape
    np.testing.assert_allclose(images, ref, atol=1e-2)


def test_extra_inputs_give_what_each_input_gives_alone(model, batch,
                                                      monkeypatch):
    """extra_shpe_inputs: one pass gives, for each extra input, the
    predictions and fed crops that a run with it as the main input gives,
    under ``<field>_<input>``; HASM runs once."""
    alone = {}
    for name in ('crop', 'gt_alone'):
        monkeypatch.setattr(model, 'shpe_input', name)
        alone[name] = _run(model, batch)
    monkeypatch.setattr(model, 'shpe_input', 'tdr')
    main = _run(model, batch)
    calls = []
    segment = model.hasm.predict_masks

    def counting(*args, **kwargs):
        calls.append(1)
        return segment(*args, **kwargs)

    monkeypatch.setattr(model.hasm, 'predict_masks', counting)
    monkeypatch.setattr(model, 'extra_shpe_inputs', ('crop', 'gt_alone'))
    out = _run(model, batch)
    assert len(calls) == 1
    for i, sample in enumerate(out):
        assert sample.tdr_crops.equal(main[i].tdr_crops)
        for key in ('keypoints', 'keypoints_3d', 'root_cam'):
            np.testing.assert_array_equal(
                sample.pred_instances[key], main[i].pred_instances[key])
        for name, runs in alone.items():
            assert sample.get(f'tdr_crops_{name}').equal(runs[i].tdr_crops)
            extra = sample.get(f'pred_instances_{name}')
            for key in ('keypoints', 'keypoints_3d', 'keypoint_scores',
                        'root_cam', 'rel_root_3d', 'hand_type'):
                np.testing.assert_array_equal(
                    extra[key], runs[i].pred_instances[key])
    assert out[0].get('tdr_crops_crop').equal(out[0].hand_crops)


def test_bad_extra_inputs_are_refused(cfg):
    init_default_scope('mmpose')
    for extra, match in ((['perfect'], "'perfect'"), ('crop', 'string'),
                         (['crop', 'crop'], 'repeats'),
                         (['tdr'], 'repeats')):
        bad = copy.deepcopy(cfg.model)
        bad.update(shpe_input='tdr', extra_shpe_inputs=extra)
        with pytest.raises(ValueError, match=match):
            MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.update(tdr=None, shpe_input='crop', extra_shpe_inputs=['tdr'])
    with pytest.raises(ValueError, match='no tdr stage'):
        MODELS.build(bad)


def test_shpe_padding_must_give_whole_pixels(cfg):
    init_default_scope('mmpose')
    with pytest.raises(ValueError, match='shpe_padding=1.3.*whole number'):
        MODELS.build(dict(cfg.model, shpe_padding=1.3))
    with pytest.raises(ValueError, match=r'shpe_padding must be in \(0'):
        MODELS.build(dict(cfg.model, shpe_padding=2.5))


def test_ceiling_needs_the_renders(model, batch, monkeypatch):
    data = copy.deepcopy(batch)
    for sample in data['data_samples']:
        del sample.gt_alone_context
    monkeypatch.setattr(model, 'shpe_input', 'gt_alone')
    with pytest.raises(ValueError, match='LoadHDRTargets'):
        model.test_step(data)


def test_ground_truth_masks_replace_hasm(model, batch, monkeypatch):
    """mask_input='gt': the samples' ground-truth masks drive the crops
    and TDR, HASM does not run; the metric then scores them perfect, and
    the true and the given holes coincide."""

    def no_hasm(*args, **kwargs):
        raise AssertionError('HASM ran')

    monkeypatch.setattr(model.hasm, 'predict_masks', no_hasm)
    monkeypatch.setattr(model, 'mask_input', 'gt')
    out = _run(model, batch)
    for sample in out:
        assert sample.pred_fields.hand_masks.equal(
            sample.gt_fields.hand_masks.float())
    metric = HDRStageMetric(mask_names=model.mask_names)
    metric.process({}, [s.to_dict() for s in out])
    res = metric.compute_metrics(metric.results)
    assert res['mask/mIoU'] == 1.0
    assert res['deocc/count'] == res['true_deocc/count'] > 0
    assert res['deocc/psnr'] == pytest.approx(res['true_deocc/psnr'])
    assert res['removal/psnr'] == pytest.approx(res['true_removal/psnr'])


def test_ground_truth_masks_are_checked(model, batch, monkeypatch):
    monkeypatch.setattr(model, 'mask_input', 'gt')
    data = copy.deepcopy(batch)
    del data['data_samples'][0].gt_fields.hand_masks
    with pytest.raises(ValueError, match='LoadHDRTargets'):
        model.test_step(data)
    data = copy.deepcopy(batch)
    sample = data['data_samples'][0]
    sample.gt_fields = PixelData(
        hand_masks=sample.gt_fields.hand_masks[:, :8, :8])
    with pytest.raises(ValueError, match='expected'):
        model.test_step(data)


def test_unknown_mask_input_is_refused(cfg):
    init_default_scope('mmpose')
    with pytest.raises(ValueError, match="mask_input must be one of"):
        MODELS.build(dict(cfg.model, mask_input='oracle'))


def test_shpe_input_and_its_alias(cfg):
    assert resolve_shpe_input() == 'tdr'
    assert resolve_shpe_input('tdr', False) == 'crop'
    assert resolve_shpe_input('crop', False) == 'crop'
    assert resolve_shpe_input('gt_alone') == 'gt_alone'
    assert resolve_shpe_input('tdr', True) == 'tdr'
    for bad in (('crop', True), ('gt_alone', True), ('gt_alone', False)):
        with pytest.raises(ValueError, match='contradicts'):
            resolve_shpe_input(*bad)
    with pytest.raises(ValueError, match="'perfect'"):
        resolve_shpe_input('perfect')
    init_default_scope('mmpose')
    bad = copy.deepcopy(cfg.model)
    bad.update(shpe_input='gt_alone', use_tdr=True)
    with pytest.raises(ValueError, match='contradicts'):
        MODELS.build(bad)


def _patch_masks(monkeypatch, model, masks):
    monkeypatch.setattr(model.hasm, 'predict_masks',
                        lambda imgs, size=None, network=None: masks.to(imgs))


def test_no_hand_or_one_hand(model, batch, monkeypatch):
    names = model.mask_names
    none = torch.zeros(len(batch['data_samples']), 4,
                       *batch['inputs']['img'][0].shape[-2:])
    _patch_masks(monkeypatch, model, none)
    for sample in _run(model, batch):
        assert not sample.pred_instances.hand_type.any()
        assert not sample.pred_instances.keypoint_scores.any()
        assert not sample.pred_instances.hand_bboxes.any()
        assert sample.pred_instances.rel_root_depth[0] == 0
    right = none.clone()
    right[:, names.index('r_amodal'), 20:60, 10:40] = 1
    right[:, names.index('r_visible'), 20:60, 10:40] = 1
    _patch_masks(monkeypatch, model, right)
    for sample in _run(model, batch):
        pred = sample.pred_instances
        np.testing.assert_array_equal(pred.hand_type, [[1, 0]])
        assert pred.keypoint_scores[0, :21].all()
        assert not pred.keypoint_scores[0, 21:].any()
        assert np.isnan(pred.root_cam[0, 1]).all()
        assert pred.rel_root_depth[0] == 0



def test_occluder_margin_leaves_a_lone_hand_as_cut(model, batch,
                                                   monkeypatch):
    # one right hand whose visible mask misses a strip of its amodal mask
    # (HASM's edge error), no left hand: with the authors' algebra TDR
    # repaints the strip; with occluder_margin nothing occludes the hand
    # and SHPE is fed the crop as cut
    names = model.mask_names
    masks = torch.zeros(len(batch['data_samples']), 4,
                        *batch['inputs']['img'][0].shape[-2:])
    masks[:, names.index('r_amodal'), 20:60, 10:40] = 1
    masks[:, names.index('r_visible'), 20:60, 10:34] = 1
    _patch_masks(monkeypatch, model, masks)
    # the tiny config sets a margin of its own; the authors' algebra is None
    monkeypatch.setattr(model, 'occluder_margin', None)
    repainted = _run(model, batch)
    for margin in (0, 2):  # 0 is the main job's, 2 a dilated occluder
        monkeypatch.setattr(model, 'occluder_margin', margin)
        kept = _run(model, batch)
        for before, after in zip(repainted, kept):
            crop = after.hand_crops[0].float()
            fed = after.tdr_crops[0].float()
            # equal up to rounding (both are rounded to uint8 apart)
            assert (fed - crop).abs().max() <= 1
            assert (before.tdr_crops[0].float() - crop).abs().max() > 1
            masks_t = after.hand_crop_masks[0]
            assert torch.equal(masks_t[1], masks_t[0])  # nothing hidden


def test_duplicate_overlap_reads_a_hand_on_both_sides_as_one(
        model, batch, monkeypatch):
    # HASM puts one hand in both sides' masks, the left copy smaller and
    # inside the right one: taken as two hands, the right hand's crop has
    # an "other hand" over it to remove; with duplicate_overlap the left
    # copy is cleared and the right hand is cut with nothing over it
    names = model.mask_names
    masks = torch.zeros(len(batch['data_samples']), 4,
                        *batch['inputs']['img'][0].shape[-2:])
    masks[:, names.index('r_amodal'), 20:60, 10:40] = 1
    masks[:, names.index('r_visible'), 20:60, 10:40] = 1
    masks[:, names.index('l_amodal'), 30:50, 15:35] = 1
    masks[:, names.index('l_visible'), 30:40, 15:35] = 1
    _patch_masks(monkeypatch, model, masks)
    for sample in _run(model, batch):
        np.testing.assert_array_equal(sample.pred_instances.hand_type,
                                      [[1, 1]])
        assert sample.hand_crop_masks[0][2:].any()  # an other hand
    monkeypatch.setattr(model, 'duplicate_overlap', 0.85)
    for sample in _run(model, batch):
        np.testing.assert_array_equal(sample.pred_instances.hand_type,
                                      [[1, 0]])
        assert not sample.hand_crop_masks[0][2:].any()
        hand_masks = sample.pred_fields.hand_masks
        assert not hand_masks[names.index('l_amodal')].any()
        assert hand_masks[names.index('r_amodal')].any()


def test_depth_gap_puts_the_more_hidden_hand_behind(model, batch,
                                                     monkeypatch):
    names = model.mask_names
    masks = torch.zeros(3, 4, 16, 16)
    for i in range(3):
        masks[i, names.index('r_amodal'), 2:8, 2:8] = 1
        masks[i, names.index('l_amodal'), 6:12, 6:12] = 1
        masks[i, names.index('r_visible'), 2:8, 2:8] = 1
        masks[i, names.index('l_visible'), 6:12, 6:12] = 1
    masks[0, names.index('l_visible'), 6:8, 6:8] = 0  # left hidden
    masks[1, names.index('r_visible'), 6:8, 6:8] = 0  # right hidden
    assert model.depth_gaps(masks) is None  # off: each hand on its own
    monkeypatch.setattr(model, 'depth_gap_mm', 100.0)
    np.testing.assert_array_equal(model.depth_gaps(masks), [100, -100, 0])
    # the placement of the frames' two hands uses it
    _patch_masks(monkeypatch, model, masks[:1].expand(
        len(batch['data_samples']), -1, -1, -1).clone())
    gaps = []
    monkeypatch.setattr(
        'hdr_mm.models.hdr.hdr_pose_estimator.place_hands',
        lambda *args: gaps.append(args[-1]) or _place_hands(*args))
    _run(model, batch)
    np.testing.assert_array_equal(gaps[0],
                                  [100.0] * len(batch['data_samples']))


def _padded(img):
    """The image zero-padded by half its size, as the authors' demo does,
    and the offset of the original in it."""
    h, w = img.shape[:2]
    pad = np.zeros((2 * h, 2 * w, 3), np.float64)
    pad[h // 2:h // 2 + h, w // 2:w // 2 + w] = img
    return pad, np.array([w // 2, h // 2], np.float64)


def _bilinear_crop(img, mat, size):
    """An independent bilinear crop (float maths, zero outside)."""
    inv = cv2.invertAffineTransform(mat)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    px = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    py = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    fx, fy = (px - x0)[..., None], (py - y0)[..., None]
    h, w = img.shape[:2]

    def at(y, x):
        ok = ((x >= 0) & (x < w) & (y >= 0) & (y < h))[..., None]
        return img[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)] * ok

    return ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
            fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)))


def test_hand_crops_are_cut_from_the_image(cfg, model, monkeypatch):
    """A hand whose box x2 reaches past the two-hand box x2: its crop holds
    image content there, as the authors' demo cuts it from the padded
    image, and its masks are the composed nearest warp."""
    img = cv2.imread(REAL_FRAME)  # 512x334 real frame
    # a wide, flat right hand on top of a square left hand: the right
    # hand's square x2 reaches above the two-hand crop
    r = np.zeros(img.shape[:2], np.uint8)
    r[120:150, 200:300] = 1
    lft = np.zeros_like(r)
    lft[140:220, 220:300] = 1
    masks_img = dict(r_amodal=r, r_visible=r * (1 - lft), l_amodal=lft,
                     l_visible=lft)
    both = np.array([199.5, 119.5, 299.5, 219.5])
    sample = _frame(cfg, img, both)
    masks = _masks_on_crop(sample['data_samples'], masks_img,
                           model.mask_names)
    _patch_masks(monkeypatch, model, masks)
    model.use_tdr = False
    try:
        out = model.test_step(pseudo_collate([sample]))[0]
    finally:
        model.use_tdr = True
    crop_box = out.metainfo['crop_box']
    box = out.pred_instances.hand_bboxes[0, 0]
    center, side = square_crop_cs(box, 2.0)
    assert center[1] - side / 2 < crop_box[1] - 10  # reaches past it
    s = model.crop_size
    pad, offset = _padded(img)
    mat = crop_warp_matrix(center + offset, side, s)
    ref = _bilinear_crop(pad, mat, s)
    crop = out.hand_crops[0].permute(1, 2, 0).numpy().astype(np.float64)
    assert np.abs(crop - ref).max() <= 1.0
    # the rows above the two-hand crop hold the image, not black
    outside = int(np.floor((crop_box[1] - (center[1] - side / 2)) *
                           s / side)) - 1
    assert outside > 5 and crop[:outside].mean() > 20
    # cv2 (1/32-pixel sample positions) agrees too
    cv = warp_to_crop(pad.astype(np.uint8), mat, s).astype(np.float64)
    assert (np.abs(crop - cv) <= 1).mean() > 0.999
    # masks: the nearest warp two-hand crop -> hand crop, exactly
    meta = out.metainfo
    two = crop_warp_matrix(meta['input_center'], meta['input_scale'][0],
                           meta['input_size'][0])
    compose = crop_warp_matrix(center, side, s) @ np.vstack(
        [cv2.invertAffineTransform(two), [0, 0, 1]])
    data = model.data_preprocessor(pseudo_collate([sample]), False)
    hands = model.locate_hands(masks, data['data_samples'])
    cut = model.cut_hands(data['inputs']['context'], masks, hands)
    order = [model.mask_names.index(n) for n in TDR_MASK_NAMES['right']]
    expected = np.stack([
        warp_to_crop(masks[0, k].numpy().astype(np.uint8), compose, s,
                     'nearest') for k in order
    ])
    np.testing.assert_array_equal(cut['masks'][0].numpy(), expected)
    # the left hand's crop is the mirror image of its unmirrored crop
    lbox = out.pred_instances.hand_bboxes[0, 1]
    lc, ls = square_crop_cs(lbox, 2.0)
    lref = _bilinear_crop(pad, crop_warp_matrix(lc + offset, ls, s,
                                                mirror=True), s)
    lcrop = out.hand_crops[1].permute(1, 2, 0).numpy().astype(np.float64)
    assert np.abs(lcrop - lref).max() <= 1.0


def test_batch_of_frames_of_different_sizes(cfg, model):
    """Contexts of different sizes are padded in a batch; each frame's
    result is the one it gets alone."""
    rng = np.random.RandomState(0)
    big = cv2.resize((rng.rand(40, 50, 3) * 255).astype(np.uint8),
                     (500, 400))
    small = cv2.resize((rng.rand(12, 10, 3) * 255).astype(np.uint8),
                       (100, 120))
    a = _frame(cfg, big, [150, 100, 300, 260], 'big.jpg')
    b = _frame(cfg, small, [10, 20, 90, 100], 'small.jpg')
    assert a['inputs']['context'].shape != b['inputs']['context'].shape
    both = model.test_step(pseudo_collate([a, b]))
    alone = [model.test_step(pseudo_collate([x]))[0] for x in (a, b)]
    for x, y in zip(both, alone):
        np.testing.assert_allclose(x.pred_instances.keypoints,
                                   y.pred_instances.keypoints, atol=1e-3)
        # the same up to float rounding of the sampling positions
        assert (x.hand_crops.int() - y.hand_crops.int()).abs().max() <= 1


def test_degenerate_boxes(cfg, model, monkeypatch):
    """A one-pixel hand, and hand boxes x2 leaving the image: zeros there,
    no crash."""
    img = np.full((60, 80, 3), 200, np.uint8)
    sample = _frame(cfg, img, [-0.5, -0.5, 79.5, 59.5])  # the whole image
    r = np.zeros(img.shape[:2], np.uint8)
    r[0:8, 0:6] = 1  # in the image's corner
    lft = np.zeros_like(r)
    lft[5, 5] = 1  # one pixel (absent: below min_mask_pixels)
    masks = _masks_on_crop(sample['data_samples'],
                           dict(r_amodal=r, r_visible=r, l_amodal=lft,
                                l_visible=lft), model.mask_names)
    _patch_masks(monkeypatch, model, masks)
    out = model.test_step(pseudo_collate([sample]))[0]
    pred = out.pred_instances
    np.testing.assert_array_equal(pred.hand_type, [[1, 0]])
    crop = out.hand_crops[0].float()
    assert (crop == 0).any() and (crop > 190).any()  # padding and image
    model.min_mask_pixels = 1
    try:
        pred = model.test_step(pseudo_collate([sample]))[0].pred_instances
    finally:
        model.min_mask_pixels = 16
    np.testing.assert_array_equal(pred.hand_type, [[1, 1]])
    assert np.isfinite(pred.keypoints).all()


def test_combined_checkpoint_loads_and_mismatch_is_named(model, tmp_path):
    paths = {}
    for stage in ('hasm', 'tdr', 'shpe'):
        paths[stage] = str(tmp_path / f'{stage}.pth')
        torch.save(dict(state_dict=getattr(model, stage).state_dict()),
                   paths[stage])
    out = str(tmp_path / 'hdr.pth')
    counts = combine_stage_checkpoints(paths, out, CONFIG)
    assert counts['shpe'] == len(model.shpe.state_dict())
    with pytest.raises(FileExistsError):
        combine_stage_checkpoints(paths, out, CONFIG)  # never replaced
    sd = torch.load(out, weights_only=True)['state_dict']
    model.load_state_dict(sd)
    del sd['tdr.generator.' + next(iter(model.tdr.generator.state_dict()))]
    with pytest.raises(StageCheckpointError, match='1 missing'):
        model.load_state_dict(sd)


def test_bad_stage_configs(cfg):
    init_default_scope('mmpose')
    bad = copy.deepcopy(cfg.model)
    bad.tdr = None
    with pytest.raises(ValueError, match='use_tdr'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.shpe.config = 'configs/shpe/no_such.py'
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.occluder_margin = -1
    with pytest.raises(ValueError, match='occluder_margin'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.duplicate_overlap = 1.5
    with pytest.raises(ValueError, match='duplicate_overlap'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.depth_gap_mm = -5
    with pytest.raises(ValueError, match='depth_gap_mm'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.hasm.checkpoint = 'missing_hasm.pth'
    with pytest.raises(FileNotFoundError, match='missing_hasm.pth'):
        MODELS.build(bad)


def test_inputs_without_context_are_refused(model, batch):
    data = copy.deepcopy(batch)
    data['inputs'] = data['inputs']['img']
    with pytest.raises(KeyError, match='context'):
        model.test_step(data)


def test_tensor_mode_gives_hasms_masks_and_training_is_refused(model, batch):
    data = model.data_preprocessor(copy.deepcopy(batch), False)
    masks = model(data['inputs'], data['data_samples'], mode='tensor')
    expected = model.hasm.predict_masks(data['inputs']['img'],
                                        model.hasm_size)
    assert masks.shape == (len(batch['data_samples']), 4, 96, 96)
    assert masks.equal(expected)
    with pytest.raises(ValueError, match='inference-only'):
        model(data['inputs'], data['data_samples'], mode='loss')
