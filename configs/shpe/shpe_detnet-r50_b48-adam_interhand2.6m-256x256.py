# HDR's single-hand pose estimator (DetNet style) on InterHand2.6M v1.0,
# the paper's setting (docs/method.md section 3): 256x256 right-hand crops
# (left hands mirrored), truncated dilated ResNet-50, heat/delta/location maps,
# loss weights 1/1/5, Adam lr 1e-4, batch 48. The paper does not give a
# schedule; 30 epochs at a constant rate is our choice.
# The authors' weights convert with
#   tools/model_converters/shpe_detnet2hdr_mm.py SRC DST --config <this>
custom_imports = dict(imports=['hdr_mm'], allow_failed_imports=False)
default_scope = 'mmpose'

input_size = (256, 256)
heatmap_size = (64, 64)  # the trunk has stride 4
codec = dict(
    type='DetNetHandCodec',
    input_size=input_size,
    heatmap_size=heatmap_size,
    sigma=2.5)

model = dict(
    type='SingleHandPoseEstimator',  # un-mirrors left-hand crops
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='DetNetResNet'),
    head=dict(
        type='DetNetHead',
        in_channels=256,
        num_joints=21,
        heatmap_loss=dict(type='MapL2Loss', loss_weight=1.0),
        delta_loss=dict(type='MapL2Loss', loss_weight=1.0),
        location_loss=dict(type='MapL2Loss', loss_weight=5.0),
        decoder=codec),
    # paper protocol: mm scale from the ground-truth wrist-middle MCP bone
    test_cfg=dict(flip_test=False, bone_length='gt', bone_length_mm=95.0))

dataset_type = 'SingleHand3DDataset'
data_root = 'data/InterHand2.6M/'
meta_keys = ('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
             'input_size', 'input_center', 'input_scale', 'mirrored',
             'interacting', 'hand_side')

train_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    # shift and scale only: a rotation would also have to rotate the
    # 3D targets about the camera axis
    dict(type='RandomBBoxTransform', rotate_factor=0.0, scale_factor=(0.8,
                                                                      1.2)),
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


def _split(name, pipeline, test_mode):
    return dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=f'annotations/{name}/InterHand2.6M_{name}_data.json',
        camera_param_file=(
            f'annotations/{name}/InterHand2.6M_{name}_camera.json'),
        joint_file=f'annotations/{name}/InterHand2.6M_{name}_joint_3d.json',
        data_prefix=dict(img=f'images/{name}/'),
        pipeline=pipeline,
        test_mode=test_mode)


train_dataloader = dict(
    batch_size=48,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=_split('train', train_pipeline, False))
val_dataloader = dict(
    batch_size=48,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=_split('val', val_pipeline, True))
test_dataloader = dict(
    batch_size=48,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=_split('test', val_pipeline, True))

val_evaluator = dict(type='HandMPJPEMetric', root_indices=(0, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=48)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        save_best='hand/MPJPE_all',
        rule='less',
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
