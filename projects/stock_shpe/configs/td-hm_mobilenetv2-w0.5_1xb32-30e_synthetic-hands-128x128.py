# A stock mmpose top-down heat-map hand model as HDR's SHPE: mmpose's own
# MobileNetV2 hand config (MobileNetV2 + HeatmapHead, MSRA heat maps),
# inherited as it is and changed only where this machine and HDR's data
# require it:
#
# - size: MobileNetV2 at half width and a head of three 128-channel
#   deconvolutions (stock: full width, 256 channels) on 128x128 crops,
#   trained from scratch (no pretrained backbone can be downloaded);
# - data: the generated single-hand renders (SingleHand3DDataset, the same
#   data as configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py,
#   at 128x128 crops): every hand as a right hand (MirrorHandCrop mirrors left
#   ones), so no RandomFlip and no flip test; rotations up to 30 degrees;
# - schedule: 30 epochs of batch 32 (1080 iterations), Adam at 1e-3 (stock
#   5e-4 for 210 epochs) with a 50-iteration warm-up and a x0.1 step at
#   epoch 24;
# - hdr_mm's ChannelsLastHook: NHWC convolutions, faster on CPU; the
#   weights are the same;
# - model type: ``SingleHandPoseEstimator`` (a TopdownPoseEstimator that
#   un-mirrors predictions on mirrored crops), so that HDR can use it as
#   its SHPE. The top-level ``input_size`` tells HDR the crop size.
#
#   python tools/train.py projects/stock_shpe/configs/\
#       td-hm_mobilenetv2-w0.5_1xb32-30e_synthetic-hands-128x128.py
_base_ = [
    'mmpose::hand_2d_keypoint/topdown_heatmap/onehand10k/'
    'td-hm_mobilenetv2_8xb64-210e_onehand10k-256x256.py',
    './_base_/single_hand_renders.py'
]
custom_imports = dict(imports=['hdr_mm'], allow_failed_imports=False)

input_size = (128, 128)  # read by HDRPoseEstimator (the hand crop size)
max_epochs = 30

codec = dict(
    type='MSRAHeatmap', input_size=input_size, heatmap_size=(32, 32),
    sigma=2)

model = dict(
    type='SingleHandPoseEstimator',
    backbone=dict(widen_factor=0.5, init_cfg=None),
    head=dict(
        deconv_out_channels=(128, 128, 128),
        deconv_kernel_sizes=(4, 4, 4),
        decoder=codec),
    test_cfg=dict(flip_test=False))

train_cfg = dict(max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=50, start_factor=0.001,
        by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        milestones=[24],
        gamma=0.1,
        by_epoch=True)
]

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
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
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
    dict(type='SyncBuffersHook'),
    # NHWC convolutions: faster on CPU
    dict(type='ChannelsLastHook'),
]
default_hooks = dict(
    logger=dict(interval=12),
    checkpoint=dict(interval=5, save_best='EPE', rule='less',
                    max_keep_ckpts=1))
log_processor = dict(window_size=12)
