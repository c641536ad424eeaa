import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

CFG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'configs', 'shpe')
PAPER = osp.join(CFG_DIR, 'shpe_detnet-r50_b48-adam_interhand2.6m-256x256.py')
SMALL = osp.join(CFG_DIR, 'shpe_detnet-tiny_b16-adamw_synthetic-96x96.py')


def test_paper_config_matches_spec():
    cfg = Config.fromfile(PAPER)
    assert cfg.train_dataloader.batch_size == 48
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4)
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    n = sum(v.numel() for k, v in model.state_dict().items()
            if not k.endswith('num_batches_tracked'))
    assert abs(n / 1e6 - 13.0) < 0.01  # docs/method.md: 13.0 M values
    head = cfg.model.head
    assert (head.heatmap_loss.loss_weight, head.delta_loss.loss_weight,
            head.location_loss.loss_weight) == (1.0, 1.0, 5.0)


def test_wrong_input_size_is_a_clear_error():
    cfg = Config.fromfile(SMALL)
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        model.head(model.backbone(torch.zeros(1, 3, 96, 96)))
        # a 64x64 crop (e.g. TopdownAffine input_size changed alone)
        with pytest.raises(ValueError, match="input must be 96x96"):
            model.head(model.backbone(torch.zeros(1, 3, 64, 64)))
    cfg.model.head.decoder.input_size = (100, 100)
    with pytest.raises(ValueError, match='integer multiple'):
        MODELS.build(cfg.model)


def test_small_shpe_crop_matches_the_pipeline():
    """The small SHPE trains and validates on the hand's amodal box x the
    padding that the tiny HDR pipeline cuts its SHPE window at."""
    shpe = Config.fromfile(SMALL)
    hdr = Config.fromfile(osp.join(osp.dirname(CFG_DIR), 'hdr',
                                   'hdr_tiny_synthetic-256x256.py'))
    assert osp.basename(hdr.model.shpe.config) == osp.basename(SMALL)
    for loader in (shpe.train_dataloader, shpe.val_dataloader,
                   shpe.test_dataloader):
        steps = [s for t in loader.dataset.pipeline
                 for s in t.get('transforms', [t])]  # inside CachedCompose
        (step, ) = [t for t in steps if t.type == 'GetBBoxCenterScale']
        assert step.padding == hdr.model.shpe_padding == 1.5
