import pytest
from mmengine.config import Config

import hdr_mm  # noqa: F401  (registers the components)
from hdr_mm.engine.runner_setup import (ConfigCheckError, check_config,
                                        use_gloo_without_cuda)


def _cfg(tmp_path, **overrides) -> Config:
    cfg = dict(
        default_scope='mmpose',
        model=dict(
            type='TopdownPoseEstimator',
            backbone=dict(type='ResNet', depth=18),
            head=dict(
                type='HeatmapHead',
                in_channels=512,
                out_channels=21,
                loss=dict(type='KeypointMSELoss'))),
        seg=dict(type='mmseg.EncoderDecoder'),
        train_dataloader=dict(
            dataset=dict(
                type='InterHand3DDataset',
                data_root=str(tmp_path),
                pipeline=[dict(type='LoadImage')])),
    )
    cfg.update(overrides)
    path = tmp_path / 'cfg.py'
    path.write_text('')
    c = Config(cfg, filename=str(path))
    return c


def test_valid_config_passes(tmp_path):
    check_config(_cfg(tmp_path))


def test_misspelled_type_names_key_and_suggests(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.model.backbone.type = 'ResNett'
    with pytest.raises(ConfigCheckError) as e:
        check_config(cfg)
    msg = str(e.value)
    assert '`model.backbone.type`' in msg and "'ResNett'" in msg
    assert 'ResNet' in msg.split('Did you mean')[1]


def test_misspelled_transform_is_caught(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.train_dataloader.dataset.pipeline[0].type = 'LoadImag'
    with pytest.raises(ConfigCheckError, match=r'pipeline\[0\]\.type'):
        check_config(cfg)


def test_missing_data_root(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(ConfigCheckError,
                       match='train_dataloader.dataset.data_root.*nowhere'):
        check_config(cfg)


def test_missing_checkpoint(tmp_path):
    cfg = _cfg(tmp_path, load_from=str(tmp_path / 'absent.pth'))
    with pytest.raises(ConfigCheckError, match='load_from.*absent.pth'):
        check_config(cfg)


def test_gloo_backend_without_cuda(tmp_path, monkeypatch):
    """Under torchrun on CPU: gloo process group up before the Runner,
    and a wrapper that DDP accepts for CPU modules."""
    import socket

    import torch.distributed as torch_dist
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for k, v in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                     MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port)).items():
        monkeypatch.setenv(k, v)
    cfg = _cfg(tmp_path, launcher='pytorch')
    try:
        use_gloo_without_cuda(cfg)
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
        assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
        assert cfg.model_wrapper_cfg.device_ids is None
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    cfg = _cfg(tmp_path, launcher='none')
    use_gloo_without_cuda(cfg)
    assert 'env_cfg' not in cfg


def test_children_of_a_prefixed_type_resolve_in_its_scope(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.seg = dict(
        type='mmseg.EncoderDecoder',
        backbone=dict(type='MixVisionTransformer'),
        decode_head=dict(type='SegformerHead'))
    check_config(cfg)
    cfg.seg.decode_head.type = 'SegformerHed'
    with pytest.raises(ConfigCheckError,
                       match=r"seg.decode_head.type.*scope 'mmseg'"):
        check_config(cfg)


def test_nms_type_is_not_a_registry_name(tmp_path):
    # mmdet configs: nms=dict(type='nms') names an mmcv.ops function
    cfg = _cfg(tmp_path, default_scope='mmdet')
    cfg.model = dict(
        type='RTMDet',
        test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))
    cfg.train_dataloader = None
    check_config(cfg)
    cfg.model.type = 'RTMDett'
    with pytest.raises(ConfigCheckError, match='RTMDet'):
        check_config(cfg)


def test_synthetic_data_may_list_folders(tmp_path, monkeypatch):
    from hdr_mm.engine import runner_setup
    calls = []
    monkeypatch.setattr('hdr_mm.datasets.synthetic.ensure_synthetic_hands',
                        lambda **kw: calls.append(kw))
    one = dict(out_dir=str(tmp_path / 'a'), num_samples=3)
    two = dict(out_dir=str(tmp_path / 'b'), num_samples=4, seed=1)
    runner_setup.ensure_config_data(Config(dict(synthetic_data=one)))
    runner_setup.ensure_config_data(Config(dict(synthetic_data=[one, two])))
    assert calls == [one, one, two]
