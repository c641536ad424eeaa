# HDR end to end at the paper's size (docs/method.md): HASM
# SegFormer MiT-B5 on the 256x256 two-hand crop, TDR partial-conv U-Net
# (generator only at inference) and SHPE DetNet-R50 on 256x256 per-hand
# crops, evaluated on the InterHand2.6M v1.0 test split: root-aligned MPJPE
# per hand, split into single / interacting / all frames, and mmpose's
# MRRPE of the right-to-left root offset.
#
#   python tools/test.py configs/hdr/hdr_paper_interhand2.6m-256x256.py \
#       work_dirs/hdr_paper.pth
#
# The checkpoint is the combination of the three stage checkpoints
# (tools/misc/combine_hdr_checkpoint.py); stage checkpoints may instead be
# given per stage with --cfg-options model.hasm.checkpoint=... .
# Latency and throughput: tools/analysis_tools/benchmark.py (random
# weights are enough, docs/benchmark.md).
custom_imports = dict(imports=['hdr_mm'], allow_failed_imports=False)
default_scope = 'mmpose'

# the output layout (42 joints, right hand first); mmpose's Hand3DInferencer
# also reads it to choose its detector (none by default for it)
dataset_type = 'CheckedInterHand3DDataset'
data_root = 'data/InterHand2.6M/'
crop_size = (256, 256)  # the two-hand crop (box of both hands x2)

model = dict(
    type='HDRPoseEstimator',
    hasm=dict(
        config='configs/hasm/'
        'hasm_segformer_mit-b5_8xb48-500k_interhand-256x256.py'),
    # inference needs neither the VGG16 of the perceptual loss (a local
    # file that may be absent) nor the discriminator's forward; the
    # discriminator is still built so that TDR training checkpoints load
    # strictly
    tdr=dict(
        config='configs/tdr/tdr_pconv-unet_70k_aih-256x256.py',
        cfg_options={'model.perceptual_loss': None}),
    shpe=dict(
        config='configs/shpe/'
        'shpe_detnet-r50_b48-adam_interhand2.6m-256x256.py'),
    shpe_input='tdr',  # 'crop': SHPE alone; 'gt_alone': a perfect TDR
    hand_padding=2.0,
    bone_length='gt',
    # how the three networks run: 'auto' takes the fastest path measured
    # for this machine's CPU ISA and logs it with the reason (README, fast
    # inference); None + 'pytorch' runs them as built (eager fp32).
    # onnx_dir keeps the graphs of onnxruntime/OpenVINO (default: a
    # temporary folder)
    precision='auto',
    backend='auto',
    data_preprocessor=dict(type='HDRDataPreprocessor'))

# the crop of both hands (HASM's input, the same transform as HASM's
# training crops) and the context window each hand's own crop is cut from
crop_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(
        type='CropBothHands',
        out_size=crop_size[0],
        box_scale=2.0,
        context_factor=2.0),
]
meta_keys = ('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
             'crop_box', 'hand_type', 'hand_type_valid', 'focal',
             'principal_pt', 'abs_depth')
test_pipeline = crop_pipeline + [
    dict(type='PackHDRInputs', meta_keys=meta_keys),
]
# what HDRInferencer runs on a user's image (box from the user, a detector
# or the whole image; no ground truth)
infer_pipeline = crop_pipeline + [
    dict(type='PackHDRInputs', meta_keys=('img_path', 'ori_shape',
                                          'img_shape', 'crop_box')),
]
test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
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
    # mmpose's MRRPE: the right-to-left wrist offset of interacting frames
    dict(type='InterHandMetric', modes=['MRRPE']),
]
test_cfg = dict()

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50))
# hand the images and crops each test iteration frees back to the OS
# (glibc keeps them otherwise and the memory grows with every frame)
custom_hooks = [dict(type='MallocTrimHook')]
env_cfg = dict(
    cudnn_benchmark=True,  # fixed 256x256 inputs
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Pose3dLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
