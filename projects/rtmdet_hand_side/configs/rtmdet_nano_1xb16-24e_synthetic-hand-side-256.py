# RTMDet-nano hand detector with the hand side as its class (right, left),
# trained from scratch on generated frames (256 x 256).
#
# The model is the one of mmpose's hand detector
# (projects/rtmpose/rtmdet/hand/rtmdet_nano_320-8xb32_hand.py in mmpose:
# mmdet's RTMDet-l config with the nano depth/width and depthwise convs),
# with two classes instead of one, plain BN (one CPU process; SyncBN
# needs a process group) and the generated frames' own 256 px input.
_base_ = 'mmdet::rtmdet/rtmdet_l_8xb32-300e_coco.py'

default_scope = 'mmdet'
custom_imports = dict(
    imports=['projects.rtmdet_hand_side.models'],
    allow_failed_imports=False)

input_size = 256
classes = ('right', 'left')
metainfo = dict(classes=classes)

# --------------------------------------------------------------------------
# data: training on frames of their own seed (seed 1; the HASM 8k config
# uses the same folder), testing on the shared test split of the main job
# (seed 0), so no test frame is ever seen in training. Both folders are
# generated on first use by tools/train.py / tools/test.py.
data_root = 'data/synthetic_hands_4k/'
test_data_root = 'data/synthetic_hands/'
synthetic_data = [
    dict(out_dir='data/synthetic_hands_4k', num_samples=4000, seed=1,
         workers=2),
    dict(out_dir='data/synthetic_hands', num_samples=1600, img_size=256,
         seed=0, occlusion_range=(0.1, 0.7)),
]
dataset_type = 'SyntheticHandSideDataset'
# one box per hand around its visible pixels (see the project README)
box = 'visible'

norm_cfg = dict(type='BN')
model = dict(
    backbone=dict(
        deepen_factor=0.33,
        widen_factor=0.25,
        use_depthwise=True,
        norm_cfg=norm_cfg),
    neck=dict(
        in_channels=[64, 128, 256],
        out_channels=64,
        num_csp_blocks=1,
        use_depthwise=True,
        norm_cfg=norm_cfg),
    bbox_head=dict(
        in_channels=64,
        feat_channels=64,
        share_conv=False,
        exp_on_reg=False,
        use_depthwise=True,
        num_classes=len(classes),
        norm_cfg=norm_cfg),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100))

# Augmentation, chosen for these frames and a short CPU schedule:
# - no flip: the generated hands tell their side by layout (right hand on
#   the image's left) and by a per-side skin tint (hdr_mm/datasets/
#   synthetic/scene.py); a mirror keeps the tint and would contradict it.
#   On real images use RandomFlipHandSide (this project), which swaps the
#   labels with the mirror;
# - no hue jitter (the tint is a hue cue), saturation/value jitter kept;
# - no mosaic/mixup: the test frames are single frames with whole hands;
#   the scale jitter stays around 1.
# Progressive resizing instead of RTMDet's mosaic stage: the first
# epochs see the frames at half size (128 px, 3.5x faster an iteration
# on the CPU, and the loss falls faster per minute), the last ones at the
# test size, where the boxes get tight.


def _pipeline(size):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(
            type='RandomResize',
            scale=(size, size),
            ratio_range=(0.8, 1.25),
            keep_ratio=True),
        dict(type='RandomCrop', crop_size=(size, size)),
        dict(type='YOLOXHSVRandomAug', hue_delta=0),
        dict(type='Pad', size=(size, size), pad_val=dict(img=(114, 114,
                                                              114))),
        dict(type='PackDetInputs')
    ]


train_pipeline = _pipeline(input_size // 2)
train_pipeline_stage2 = _pipeline(input_size)

# annotations loaded after Resize: ground truth in original pixels, for
# HandednessMetric (CocoMetric reads ann_file)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=True),
    dict(
        type='Pad',
        size=(input_size, input_size),
        pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

train_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        box=box,
        metainfo=metainfo,
        filter_cfg=dict(filter_empty_gt=True, min_size=2),
        pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        box=box,
        metainfo=metainfo,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=test_data_root,
        split='test',
        box=box,
        metainfo=metainfo,
        test_mode=True,
        pipeline=test_pipeline))

# bbox AP per class (classwise) and the side accuracy of the boxes
val_evaluator = [
    dict(
        type='CocoMetric',
        ann_file=data_root + f'coco_det/val_{box}.json',
        metric='bbox',
        classwise=True,
        format_only=False),
    dict(type='HandednessMetric', score_thr=0.3, iou_thr=0.5),
]
test_evaluator = [
    dict(
        type='CocoMetric',
        ann_file=test_data_root + f'coco_det/test_{box}.json',
        metric='bbox',
        classwise=True,
        format_only=False),
    dict(type='HandednessMetric', score_thr=0.3, iou_thr=0.5),
]

# --------------------------------------------------------------------------
# schedule: 3200 training frames, 200 iterations of 16 per epoch;
# epochs 1-20 at 128 px, 21-24 at 256 px
max_epochs = 24
stage2_num_epochs = 4
base_lr = 0.002
interval = 4

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=interval)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0e-3,
        by_epoch=False,
        begin=0,
        end=200),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=1,
        end=max_epochs,
        T_max=max_epochs - 1,
        by_epoch=True,
        convert_to_iter_based=True),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook',
        interval=interval,
        max_keep_ckpts=2))
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49),
    dict(
        type='PipelineSwitchHook',
        switch_epoch=max_epochs - stage2_num_epochs,
        switch_pipeline=train_pipeline_stage2)
]

# batch 16 on one process (mmdet's RTMDet: 8 x 32 with lr 0.004)
auto_scale_lr = dict(enable=False, base_batch_size=16)
env_cfg = dict(cudnn_benchmark=False)
