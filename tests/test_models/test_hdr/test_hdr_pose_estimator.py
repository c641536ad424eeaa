"""The HDR pipeline model on generated frames with untrained stages."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from hdr_mm.models.hdr import StageCheckpointError
from hdr_mm.models.hdr.stage_builder import combine_stage_checkpoints

CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


@pytest.fixture(scope='module')
def cfg(synthetic_root):
    cfg = Config.fromfile(CONFIG)
    ds = cfg.test_dataloader.dataset
    ds.data_root = str(synthetic_root / 'interhand2.6m')
    cfg.test_pipeline[3].input_size = (96, 96)  # TopdownAffine: tiny
    ds.pipeline = cfg.test_pipeline
    return cfg


@pytest.fixture(scope='module')
def model(cfg):
    init_default_scope('mmpose')
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


@pytest.fixture(scope='module')
def batch(cfg):
    init_default_scope('mmpose')
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    return pseudo_collate([ds[i] for i in range(len(ds))])


def _run(model, batch):
    data = model.data_preprocessor(copy.deepcopy(batch), False)
    return model.predict(data['inputs'], data['data_samples'])


def test_outputs_in_mmpose_3d_hand_layout(model, batch):
    out = _run(model, batch)
    assert len(out) == len(batch['inputs'])
    s = model.hand_size
    for sample in out:
        pred = sample.pred_instances
        assert pred.keypoints.shape == (1, 42, 3)
        assert pred.keypoints_3d.shape == (1, 42, 3)
        assert pred.keypoint_scores.shape == (1, 42)
        assert pred.hand_type.shape == (1, 2)
        assert np.isfinite(pred.keypoints).all()
        # each hand's 3D joints are relative to its own wrist (index 20)
        for h in range(2):
            if pred.hand_type[0, h]:
                np.testing.assert_allclose(
                    pred.keypoints_3d[0, 21 * h + 20], 0, atol=1e-4)
        assert sample.pred_fields.hand_masks.shape == (4, 96, 96)
        assert sample.tdr_crops.shape == (2, 3, s, s)
        assert sample.gt_hand_crops.shape == (2, 3, s, s)
        assert sample.repaint.shape == (2, 1, s, s)


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
        grown = torch.nn.functional.max_pool2d(
            sample.repaint.float(), k, 1, k // 2) > 0
        diff = (sample.tdr_crops.int() - sample.hand_crops.int()).abs()
        assert (diff * ~grown).max() <= 1  # rounding only


def test_no_hand_found_gives_an_empty_result(model, batch, monkeypatch):
    monkeypatch.setattr(model, 'segment',
                        lambda x: torch.zeros(x.shape[0], 4, *x.shape[-2:]))
    out = _run(model, batch)
    for sample in out:
        assert not sample.pred_instances.hand_type.any()
        assert not sample.pred_instances.keypoint_scores.any()


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
    bad.hasm.checkpoint = 'missing_hasm.pth'
    with pytest.raises(FileNotFoundError, match='missing_hasm.pth'):
        MODELS.build(bad)
