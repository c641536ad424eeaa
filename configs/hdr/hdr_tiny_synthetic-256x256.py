# HDR end to end on the generated data: the three small CPU stages
# (configs/{hasm,tdr,shpe}/*synthetic*), each with the checkpoint that its
# own training wrote (tools/run_main_job.sh trains them into
# work_dirs/main_job/<stage>). Evaluated on the generated test split in
# InterHand2.6M format: root-aligned MPJPE per hand, split into single /
# interacting / all frames, plus the HASM mask IoU on the two-hand crops and
# the fidelity of each hand crop fed to SHPE against that hand rendered alone.
#
#   python tools/test.py configs/hdr/hdr_tiny_synthetic-256x256.py \
#       work_dirs/main_job/hdr.pth
#
# The checkpoint argument of tools/test.py is the combined one written by
# tools/misc/combine_hdr_checkpoint.py; stage checkpoints may instead be
# given per stage with --cfg-options model.hasm.checkpoint=... .
custom_imports = dict(imports=['hdr_mm'], allow_failed_imports=False)
default_scope = 'mmpose'

_base_ = ['../_base_/datasets/synthetic_hands.py']

data_root = 'data/synthetic_hands/interhand2.6m/'
crop_size = (256, 256)  # the two-hand crop (box of both hands x2)

model = dict(
    type='HDRPoseEstimator',
    hasm=dict(config='configs/hasm/'
              'hasm_segformer_mit-b0_1xb8-3k_synthetic-128x128.py'),
    tdr=dict(config='configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py'),
    shpe=dict(config='configs/shpe/'
              'shpe_detnet-tiny_b16-adam_synthetic-128x128.py'),
    use_tdr=True,
    hand_padding=2.0,
    bone_length='gt')

meta_keys = ('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
             'input_size', 'input_center', 'input_scale', 'hand_type',
             'hand_type_valid')
# LoadHDRTargets/WarpExtraKeys/PackHDRInputs bring the ground truth of the
# intermediate stages (masks, each hand rendered alone) into the crop for
# HDRStageMetric; inference on plain images needs only the other three.
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadHDRTargets'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='TopdownAffine', input_size=crop_size),
    dict(type='WarpExtraKeys',
         image_keys=['gt_alone_right', 'gt_alone_left'],
         mask_keys=['gt_hand_masks']),
    dict(type='PackHDRInputs', meta_keys=meta_keys),
]
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='InterHand3DDataset',
        data_root=data_root,
        ann_file='annotations/test/InterHand2.6M_test_data.json',
        camera_param_file='annotations/test/InterHand2.6M_test_camera.json',
        joint_file='annotations/test/InterHand2.6M_test_joint_3d.json',
        data_prefix=dict(img='images/test/'),
        use_gt_root_depth=True,
        rootnet_result_file=None,
        data_mode='topdown',
        pipeline=test_pipeline,
        test_mode=True))
test_evaluator = [
    dict(
        type='HandMPJPEMetric',
        root_indices=(20, 41),
        pred_key='keypoints_3d',
        gt_key='keypoints_cam'),
    dict(type='HDRStageMetric'),
]
test_cfg = dict()

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Pose3dLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
