# A stock mmpose hand model as HDR's SHPE: mmpose's own RTMPose hand config
# (CSPNeXt backbone + RTMCCHead, SimCC labels), inherited as it is and
# changed only where this machine and HDR's data require it:
#
# - size: RTMPose-t widths/depths (the smallest RTMPose) on 128x128 crops,
#   trained from scratch (no pretrained backbone can be downloaded), BN
#   instead of SyncBN (one process);
# - data: the generated single-hand renders (SingleHand3DDataset, the same
#   data as configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py,
#   at 128x128 crops): every hand as a right hand (MirrorHandCrop mirrors left
#   ones), so no RandomFlip and no flip test; Albumentation is dropped (not
#   installed here) and rotations are limited to 30 degrees;
# - schedule: 20 epochs of batch 32 (720 iterations) with the stock
#   AdamW/cosine recipe, EMA, a 100-iteration warm-up and no stage-2
#   pipeline switch (too short a run for it);
# - hdr_mm's ChannelsLastHook: NHWC convolutions, about 3x faster on CPU
#   here; the weights are the same;
# - model type: ``SingleHandPoseEstimator`` (a TopdownPoseEstimator that
#   un-mirrors predictions on mirrored crops), so that HDR can use it as
#   its SHPE. The top-level ``input_size`` tells HDR the crop size.
#
#   python tools/train.py \
#       projects/stock_shpe/configs/rtmpose-t_1xb32-20e_synthetic-hands-128x128.py
_base_ = [
    'mmpose::hand_2d_keypoint/rtmpose/coco_wholebody_hand/'
    'rtmpose-m_8xb32-210e_coco-wholebody-hand-256x256.py',
    './_base_/single_hand_renders.py'
]
custom_imports = dict(imports=['hdr_mm'], allow_failed_imports=False)

input_size = (128, 128)  # read by HDRPoseEstimator (the hand crop size)
max_epochs = 20
base_lr = 4e-3

codec = dict(
    type='SimCCLabel',
    input_size=input_size,
    sigma=(5.66, 5.66),
    simcc_split_ratio=2.0,
    normalize=False,
    use_dark=False)

model = dict(
    type='SingleHandPoseEstimator',
    backbone=dict(
        deepen_factor=0.167,
        widen_factor=0.375,
        norm_cfg=dict(type='BN'),
        init_cfg=None),
    head=dict(
        in_channels=384,
        input_size=input_size,
        in_featuremap_size=tuple(s // 32 for s in input_size),
        decoder=codec),
    test_cfg=dict(flip_test=False))

train_cfg = dict(max_epochs=max_epochs, val_interval=5)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0e-5,
        by_epoch=False,
        begin=0,
        end=100),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=max_epochs // 2,
        end=max_epochs,
        T_max=max_epochs // 2,
        by_epoch=True,
        convert_to_iter_based=True),
]
optim_wrapper = dict(optimizer=dict(lr=base_lr))

dataset_type = 'SingleHand3DDataset'
data_root = _base_.single_hand_root
meta_keys = _base_.single_hand_meta_keys

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(
        type='RandomBBoxTransform',
        shift_factor=0.1,
        scale_factor=(0.8, 1.2),
        rotate_factor=30),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorHandCrop'),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
# the stock config's stage-2 pipeline (its PipelineSwitchHook is not used)
train_pipeline_stage2 = None
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorHandCrop'),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
# the dataloaders: projects/stock_shpe/configs/_base_/single_hand_renders.py
train_dataloader = _base_.single_hand_loaders['train']
train_dataloader.dataset.pipeline = train_pipeline
val_dataloader = _base_.single_hand_loaders['val']
val_dataloader.dataset.pipeline = val_pipeline
test_dataloader = _base_.single_hand_loaders['test']
test_dataloader.dataset.pipeline = val_pipeline

custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49),
    # NHWC convolutions: about 3x faster on CPU for this thin network
    dict(type='ChannelsLastHook'),
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=5, save_best='EPE', rule='less',
                    max_keep_ckpts=1))
log_processor = dict(window_size=20)
