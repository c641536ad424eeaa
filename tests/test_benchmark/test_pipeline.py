"""hdr_mm.benchmark.pipeline: the tiny pipeline, its stage networks and
their inputs."""
import pytest
import torch

from hdr_mm.benchmark.pipeline import (BenchInputs, build_pipeline,
                                       stage_networks)


def test_build_pipeline_refuses_a_stage_config():
    with pytest.raises(ValueError, match='HDRPoseEstimator'):
        build_pipeline('configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py')


def test_inputs_and_networks(bench_pipeline):
    model, cfg = bench_pipeline
    x = BenchInputs(model, cfg, 2, torch.device('cpu'))
    h, t, s = model.hasm_size, model.tdr_size, model.shpe_size
    assert x.hasm.shape[0] == 2 and x.hasm.shape[-2:] == (h, h)
    assert len(x.hasm_metas) == 2
    c = model.tdr.generator.in_channels
    assert x.tdr_x.shape == x.tdr_mask.shape == (4, c, t, t)
    assert set(x.tdr_mask.unique().tolist()) <= {0.0, 1.0}
    assert x.shpe.shape == (4, 3, s, s)
    assert len(x.data['inputs']) == 2
    # the same seed: the same inputs
    assert torch.equal(BenchInputs(model, None, 2, 'cpu').shpe, x.shpe)
    nets = stage_networks(model)
    assert sorted(nets) == ['hasm', 'shpe', 'tdr']
    with torch.no_grad():
        out, out_mask = nets['tdr'](x.tdr_x, x.tdr_mask)
        heatmaps = nets['shpe'](x.shpe)[0]
    assert out.shape == (4, 3, t, t) and heatmaps.shape[0] == 4
