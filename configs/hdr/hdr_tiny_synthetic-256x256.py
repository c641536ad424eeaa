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
# Everything not set here is as in the paper-size pipeline config.
_base_ = [
    './hdr_paper_interhand2.6m-256x256.py',
    '../_base_/datasets/synthetic_hands.py'
]

data_root = 'data/synthetic_hands/interhand2.6m/'

model = dict(
    hasm=dict(config='configs/hasm/'
              'hasm_segformer_mit-b0_1xb8-1k_synthetic-128x128.py'),
    tdr=dict(config='configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py'),
    shpe=dict(config='configs/shpe/'
              'shpe_detnet-tiny_b16-adam_synthetic-128x128.py'))

# LoadHDRTargets/WarpExtraKeys/PackHDRInputs bring the ground truth of the
# intermediate stages (masks, each hand rendered alone) into the crop for
# HDRStageMetric; the inferencer drops them (docs/inference.md).
test_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='LoadHDRTargets'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='TopdownAffine', input_size={{_base_.crop_size}}),
    dict(
        type='WarpExtraKeys',
        image_keys=['gt_alone_right', 'gt_alone_left'],
        mask_keys=['gt_hand_masks']),
    dict(type='PackHDRInputs', meta_keys={{_base_.meta_keys}}),
]
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_evaluator = [
    dict(
        type='HandMPJPEMetric',
        root_indices=(20, 41),
        pred_key='keypoints_3d',
        gt_key='keypoints_cam'),
    dict(type='HDRStageMetric'),
]
default_hooks = dict(logger=dict(interval=20))
env_cfg = dict(cudnn_benchmark=False)
