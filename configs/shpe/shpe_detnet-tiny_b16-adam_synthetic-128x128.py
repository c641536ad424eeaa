# Small CPU configuration of the SHPE on the generated data: the same
# DetNet design (trunk with a max-pool unit and dilated stages, coordinate
# channels, heat/delta/location branches, loss weights 1/1/5) but thin
# (bottleneck widths 16/32/64) and on 128x128 crops, so that it learns
# visibly in a few minutes on 2 cores. The data is generated on first use.
_base_ = [
    './shpe_detnet-r50_b48-adam_interhand2.6m-256x256.py',
    '../_base_/datasets/synthetic_hands.py'
]

data_root = 'data/synthetic_hands/interhand2.6m/'

input_size = (128, 128)
heatmap_size = (32, 32)
codec = dict(
    type='DetNetHandCodec',
    input_size=input_size,
    heatmap_size=heatmap_size,
    sigma=1.5)

model = dict(
    backbone=dict(
        type='DetNetResNet',
        stem_channels=32,
        stage_blocks=(2, 1, 1),
        stage_out_channels=(64, 128, 256),
        out_channels=64),
    head=dict(in_channels=64, mid_channels=64, decoder=codec))

meta_keys = ('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
             'input_size', 'input_center', 'input_scale', 'mirrored',
             'interacting', 'hand_side')
train_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='RandomBBoxTransform', rotate_factor=0.0, scale_factor=(0.9,
                                                                      1.1)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorHandCrop'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
val_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorHandCrop'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
# HDR's SHPE is a single-hand estimator: it trains (and is validated) on
# each hand rendered alone (the generator's images_alone/), never seeing
# a second hand. The test split reads the real interacting frames, where
# "SHPE alone" has to cope with the other hand.
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        alone_img_prefix='images_alone/train/',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        alone_img_prefix='images_alone/val/',
        pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=val_pipeline))

optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=2)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(interval=2, max_keep_ckpts=1))
log_processor = dict(window_size=10)
# the split of the training time (data loading, train steps, validation)
# in <work_dir>/timing.json; the main job reports it
custom_hooks = [dict(type='StageTimingHook')]
