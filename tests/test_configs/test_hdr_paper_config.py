"""The paper-size HDR pipeline config points at the paper stage configs
and each of them states the input size the pipeline reads."""
import os.path as osp

from mmengine.config import Config

from hdr_mm.models.hdr import stage_input_size

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER = osp.join(ROOT, 'configs/hdr/hdr_paper_interhand2.6m-256x256.py')


def test_paper_pipeline_config():
    cfg = Config.fromfile(PAPER)
    model = cfg.model
    assert model.type == 'HDRPoseEstimator'
    assert 'mit-b5' in model.hasm.config
    assert model.tdr.config.endswith('tdr_pconv-unet_70k_aih-256x256.py')
    assert 'detnet-r50' in model.shpe.config
    # docs/method.md section 1: 256x256 two-hand crop, 256x256 per-hand crops
    assert tuple(cfg.crop_size) == (256, 256)
    for name in ('hasm', 'tdr', 'shpe'):
        stage = Config.fromfile(osp.join(ROOT, model[name].config))
        assert stage_input_size(stage, name) == 256
    # the InterHand2.6M test split and the tiny pipeline's metric
    ds = cfg.test_dataloader.dataset
    assert ds.type == 'CheckedInterHand3DDataset'  # named file errors
    assert ds.ann_file == 'annotations/test/InterHand2.6M_test_data.json'
    mpjpe, mrrpe = cfg.test_evaluator
    assert mpjpe.type == 'HandMPJPEMetric'
    assert tuple(mpjpe.root_indices) == (20, 41)
    assert mrrpe.type == 'InterHandMetric' and mrrpe.modes == ['MRRPE']
    # the two-hand crop is CropBothHands, the transform of HASM's
    # training crops, and the inference pipeline has no ground truth
    hasm = Config.fromfile(osp.join(ROOT, model.hasm.config))
    types = [t.type.split('.')[-1] for t in hasm.test_pipeline]
    assert 'CropBothHands' in types
    for pipeline in (cfg.test_pipeline, cfg.infer_pipeline):
        crop = [t for t in pipeline if t.type == 'CropBothHands']
        assert len(crop) == 1 and crop[0].out_size == 256
        assert crop[0].context_factor == 2.0
