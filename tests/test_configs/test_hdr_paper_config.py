"""The paper-size HDR pipeline config points at the paper stage configs
and each of them states the input size the pipeline reads."""
import os.path as osp

from mmengine.config import Config

from hdr_mm.models.hdr.hdr_pose_estimator import HDRPoseEstimator

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER = osp.join(ROOT, 'configs/hdr/hdr_paper_interhand2.6m-256x256.py')


def test_paper_pipeline_config():
    cfg = Config.fromfile(PAPER)
    model = cfg.model
    assert model.type == 'HDRPoseEstimator'
    assert 'mit-b5' in model.hasm.config
    assert model.tdr.config.endswith('tdr_pconv-unet_70k_aih-256x256.py')
    assert 'detnet-r50' in model.shpe.config
    # HDR_SPEC section 1: 256x256 two-hand crop, 256x256 per-hand crops
    assert tuple(cfg.crop_size) == (256, 256)
    for name in ('hasm', 'tdr', 'shpe'):
        stage = Config.fromfile(osp.join(ROOT, model[name].config))
        assert HDRPoseEstimator._stage_input_size(stage, name) == 256
    # the InterHand2.6M test split and the tiny pipeline's metric
    ds = cfg.test_dataloader.dataset
    assert ds.type == 'CheckedInterHand3DDataset'  # named file errors
    assert ds.ann_file == 'annotations/test/InterHand2.6M_test_data.json'
    assert cfg.test_evaluator.type == 'HandMPJPEMetric'
    assert tuple(cfg.test_evaluator.root_indices) == (20, 41)
