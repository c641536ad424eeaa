# HASM, paper configuration (docs/method.md section 3): SegFormer MiT-B5 with a
# four-branch all-MLP decoder predicting [l_amodal, l_visible, r_amodal,
# r_visible] on the 256x256 crop of both hands. AdamW lr 6e-5 x 48, poly
# schedule, 500k iterations, batch 48 per GPU (the authors' values).
#
# Scopes: hdr_mm registers HASM's parts in mmseg's registries and the whole
# project runs with default_scope='mmpose'. Every mmseg component is named
# with the `mmseg.` prefix, nested ones included (mmengine resolves a name
# in the *current default scope*, here mmpose, even when mmseg code builds
# it). The model also carries `_scope_='mmseg'`, which makes mmseg the
# default scope while the model is built, so names that mmseg modules build
# internally without a prefix resolve in mmseg too.
custom_imports = dict(imports=['hdr_mm'], allow_failed_imports=False)
default_scope = 'mmpose'

data_root = 'data/synthetic_hands'  # any data in docs/data_layout.md form
crop_size = (256, 256)

norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    type='mmseg.HandAmodalSegmentor',
    _scope_='mmseg',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmseg.MixVisionTransformer',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[3, 6, 40, 3],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        # The authors start from ImageNet MiT-B5 weights; none can be
        # downloaded here. Give a local file to start from them:
        # init_cfg=dict(type='Pretrained', checkpoint='pretrain/mit_b5.pth')
    ),
    decode_head=dict(
        type='mmseg.HandAmodalSegformerHead',
        mask_names=('l_amodal', 'l_visible', 'r_amodal', 'r_visible'),
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,  # the authors' head width (their MiT-B0 base)
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='mmseg.LoadHandAmodalMasks'),
    dict(
        type='mmseg.CropBothHands',
        out_size=crop_size[0],
        box_scale=2.0,
        shift_factor=0.1,
        scale_factor=0.25),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.PackHandSegInputs'),
]
test_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='mmseg.LoadHandAmodalMasks'),
    dict(type='mmseg.CropBothHands', out_size=crop_size[0], box_scale=2.0),
    dict(type='mmseg.PackHandSegInputs'),
]
train_dataloader = dict(
    batch_size=48,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='mmseg.HandAmodalSegDataset',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmseg.HandAmodalSegDataset',
        data_root=data_root,
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmseg.HandAmodalSegDataset',
        data_root=data_root,
        split='test',
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='mmseg.HandAmodalIoU')
test_evaluator = val_evaluator

max_iters = 500000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.00006 * 48, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'head': dict(lr_mult=10.)
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=2500,
        save_best='mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
# mmseg's SegLocalVisualizer draws one 2-D label map per sample; HASM's
# four-channel masks are not drawn during training.
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
