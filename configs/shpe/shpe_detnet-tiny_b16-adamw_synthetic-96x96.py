# Small CPU configuration of the SHPE on the generated data: the same
# DetNet design (trunk with a max-pool unit and dilated stages, coordinate
# channels, heat/delta/location branches, delta/location losses weighted by
# the ground-truth heat map) but thin (bottleneck widths 16/32/32) and on
# 96x96 crops (24x24 maps), so that it learns in a few minutes on 2 cores.
# The data is generated on first use.
#
# What the paper leaves open is chosen for speed of learning:
# - heat maps: a softmax over each joint's map trained with cross-entropy
#   against the normalised Gaussian, instead of sigmoid + squared L2. With
#   sigmoid + L2 the 32x32 maps of this model at 128 px stayed flat (all 21
#   joints of a hand decoded to one pixel, acc_pose 0.07-0.10) for the 288
#   iterations the job could afford; cross-entropy gives the joint's cell a
#   gradient of p - 1 from the first iteration. Joints are read with
#   sub-cell precision (5x5 probability-weighted mean around the arg-max).
# - 96 px input, channels-last memory (ChannelsLastHook), 14 epochs: val
#   PCK@0.2 0.613 / MPJPE 48.2 mm in 337 s, against 0.533 / 51.2 mm for 20
#   epochs at 64 px (16x16 maps) in about the same time (seed 0, AMD EPYC
#   AVX2, 2 threads); 128 px costs 0.6 s an iteration.
# - AdamW with a linear warm-up, then cosine decay, at a peak learning rate
#   of 1.2e-2. Val PCK@0.2 / MPJPE (seed 0, Intel Xeon AMX, 12 epochs):
#   3e-3 0.827 / 37.3 mm, 6e-3 0.848 / 34.2, 1.2e-2 0.855 / 34.3 (with
#   the 3D losses at 0.5: 0.831 / 34.3). 3e-3 for 24 epochs: 0.870 /
#   31.5 in twice the time.
# - the 3D losses weighted 0.2 (delta and location maps) against the heat
#   maps' 1, instead of DetNet's 1 and 5: the 3D maps are read at the 2D
#   joints, and with 5x the location loss the shared thin trunk learned the
#   heat maps slowly. Val PCK@0.2 / MPJPE (seed 0, AMD EPYC Zen 4): 1/5
#   0.597 / 47.4 mm, 1/1 0.700 / 44.4, 0.5/0.5 0.735 / 42.9, 0.2/0.2
#   0.774 / 42.1. (Rotations of +-30 deg in training: 0.605 / 47.0 with 1/5.)
# - each hand cropped at 1.5x its amodal box instead of 2x (the HDR
#   pipeline's `shpe_padding`: it cuts the hands at 2x for TDR and gives
#   SHPE their centre): at 2x the joints' box spans ~9 of the 24 map cells.
#   Val PCK@0.2 / MPJPE (seed 1, Intel Xeon AMX, 2 threads, 14 epochs):
#   2x 0.731 / 43.3 mm, 1.5x 0.780 / 41.0 in the same 247 s (1.2x, with
#   the two changes below: 0.791 / 40.3, no better than 1.5x).
# - the last stage 128 channels wide instead of 256 (the 3x3 squeeze conv
#   from it was half the trunk's operations) and 18 epochs instead of 14:
#   with 1.5x crops 0.790 / 40.0 mm in 267 s.
# - 12 epochs of the 1600-frame set (2304 hands, 1728 iterations, warm-up
#   1 epoch): on the main job's test split with seed 1, 14 epochs of it
#   gave HDR + SHPE interacting MPJPE 48.8 mm and SHPE alone on single
#   hands 38.7 mm, against 54.2 / 43.6 for 18 epochs of the 800-frame set;
#   12 keeps the job within 20 minutes with AVX2 kernels.
_base_ = [
    './shpe_detnet-r50_b48-adam_interhand2.6m-256x256.py',
    '../_base_/datasets/synthetic_hands.py'
]

data_root = 'data/synthetic_hands/interhand2.6m/'

input_size = (96, 96)
heatmap_size = (24, 24)
codec = dict(
    type='DetNetHandCodec',
    input_size=input_size,
    heatmap_size=heatmap_size,
    sigma=1.0,
    heatmap_type='softmax')

model = dict(
    backbone=dict(
        type='DetNetResNet',
        stem_channels=32,
        stage_blocks=(2, 1, 1),
        stage_out_channels=(64, 128, 128),
        out_channels=64),
    head=dict(
        in_channels=64,
        mid_channels=64,
        heatmap_activation='softmax',
        heatmap_loss=dict(type='HeatmapCrossEntropyLoss', loss_weight=1.0),
        delta_loss=dict(loss_weight=0.2),
        location_loss=dict(loss_weight=0.2),
        decoder=codec))

meta_keys = ('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
             'input_size', 'input_center', 'input_scale', 'mirrored',
             'interacting', 'hand_side')
# the decoded image and its box are the same in every epoch: kept in memory
# (CachedCompose); the random box jitter and the warp run every time
train_pipeline = [
    dict(
        type='CachedCompose',
        transforms=[
            dict(type='LoadCheckedImage'),
            dict(type='GetBBoxCenterScale', padding=1.5),
        ]),
    dict(type='RandomBBoxTransform', rotate_factor=0.0, scale_factor=(0.9,
                                                                      1.1)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorHandCrop'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
val_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='GetBBoxCenterScale', padding=1.5),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorHandCrop'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
# HDR's SHPE is a single-hand estimator: it trains (and is validated) on
# each hand rendered alone (the generator's images_alone/), never seeing
# a second hand. The test split reads the real interacting frames, where
# "SHPE alone" has to cope with the other hand.
# Each hand is boxed by its amodal mask (masks/), as the HDR pipeline boxes
# it by HASM's amodal mask: the joints' box is ~1.34x smaller, so a SHPE
# trained on it sees every pipeline hand a quarter smaller than in training.
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        alone_img_prefix='images_alone/train/',
        box_mask_prefix='masks/train/',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        alone_img_prefix='images_alone/val/',
        box_mask_prefix='masks/val/',
        pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        box_mask_prefix='masks/test/',
        pipeline=val_pipeline))

max_epochs = 12
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1.2e-2, weight_decay=1e-4))
# linear warm-up over the first epoch, then cosine decay to 0 (a one-cycle
# schedule; mmengine's OneCycleLR is not used because its state, saved in
# every checkpoint, holds a bound method that a weights-only load refuses)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.04, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=1,
         end=max_epochs, T_max=max_epochs - 1, convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=6)
# 2D PCK@0.2 of each hand's joint box and root-relative MPJPE (mm)
val_evaluator = [
    dict(type='HandMPJPEMetric', root_indices=(0, )),
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
]
test_evaluator = val_evaluator
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(interval=6, max_keep_ckpts=1))
log_processor = dict(window_size=10)
# the split of the training time (data loading, train steps, validation)
# in <work_dir>/timing.json; the main job reports it. Channels-last
# tensors make this trunk's convolutions faster on CPU (0.215 -> 0.167 s
# an iteration at batch 16, 64 px, in a micro-benchmark).
custom_hooks = [dict(type='StageTimingHook'), dict(type='ChannelsLastHook')]
