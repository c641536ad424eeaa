"""The HASM configs: the paper's settings and the two small ones."""
import os.path as osp

import pytest
from mmengine.config import Config

CFG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'configs', 'hasm')
PAPER = osp.join(CFG_DIR,
                 'hasm_segformer_mit-b5_8xb48-500k_interhand-256x256.py')
MAIN_JOB = osp.join(CFG_DIR,
                    'hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py')
LONG = osp.join(CFG_DIR,
                'hasm_segformer_mit-b0_1xb8-8k_synthetic4k-128x128.py')


def test_paper_config_matches_spec():
    cfg = Config.fromfile(PAPER)
    # docs/method.md section 3: MiT-B5, AdamW 6e-5 x 48, poly, 256x256
    assert cfg.model.backbone.num_layers == [3, 6, 40, 3]
    assert cfg.train_dataloader.batch_size == 48
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(6e-5 * 48)
    assert cfg.crop_size == (256, 256)


def test_small_configs_schedule_and_data():
    main_job, long = Config.fromfile(MAIN_JOB), Config.fromfile(LONG)
    # the same model and losses ...
    assert long.model == main_job.model
    losses = [d.type for d in main_job.model.decode_head.loss_decode]
    assert losses == ['mmseg.CrossEntropyLoss', 'mmseg.DiceLoss']
    # ... the schedule ends where the poly decay does
    for cfg, iters in ((main_job, 1500), (long, 8000)):
        assert cfg.train_cfg.max_iters == iters
        assert cfg.param_scheduler[-1].end == iters
    # the main job reads the shared set; the long run generates its own
    # 4000 frames, and every split of it is read from there
    assert main_job.train_dataloader.dataset.data_root == \
        main_job.synthetic_data.out_dir == 'data/synthetic_hands'
    assert long.synthetic_data.out_dir == 'data/synthetic_hands_4k'
    assert long.synthetic_data.num_samples == 4000
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert long[loader].dataset.data_root == long.synthetic_data.out_dir
    # the shared set's frames, but other ones: a frame is a function of
    # (seed, index), so another seed keeps the pipeline's test frames out
    # of HASM's training split
    assert long.synthetic_data.img_size == main_job.synthetic_data.img_size
    assert long.synthetic_data.seed != main_job.synthetic_data.seed
