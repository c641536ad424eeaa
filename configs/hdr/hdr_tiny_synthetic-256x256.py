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
_base_ = ['./hdr_paper_interhand2.6m-256x256.py']

# Evaluated on its own generated frames, never seen in training: another
# seed than the stages' training set (configs/_base_/datasets/
# synthetic_hands.py, seed 0), all of them in the test split, a quarter
# with one hand. Generated on first use by tools/test.py.
synthetic_data = dict(
    out_dir='data/synthetic_hands_test',
    num_samples=500,
    img_size=256,
    seed=1000,
    occlusion_range=(0.1, 0.7),
    single_hand_ratio=0.25,
    split_ratios=(0.0, 0.0, 1.0))
data_root = 'data/synthetic_hands_test/interhand2.6m/'

# The small SHPE is trained on each hand's amodal box x1.5 (the paper's
# x2 crop leaves the hand 9x9 cells of its 24x24 maps): the hands are cut
# at x2 for TDR, 128 px, and SHPE reads their centre 96 px.
# TDR repaints only the part of a hand HASM calls hidden that lies under the
# other hand's visible mask (occluder_margin=0: in the ground truth nothing
# else can hide it); HASM's own edge errors are left as they are. On the
# main job's seed-0 models: interacting MPJPE 50.72 -> 50.21 mm, TDR in
# the hole it is given -1.30 -> +1.25 dB over the input.
model = dict(
    shpe_padding=1.5,
    occluder_margin=0,
    hasm=dict(config='configs/hasm/'
              'hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py'),
    tdr=dict(config='configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py'),
    shpe=dict(config='configs/shpe/'
              'shpe_detnet-tiny_b16-adamw_synthetic-96x96.py'))

# LoadHDRTargets brings the ground truth of the intermediate stages (masks,
# each hand rendered alone) for HDRStageMetric; CropBothHands warps the
# masks into the two-hand crop and cuts the renders like the context
# window. The inferencer runs `infer_pipeline` (no ground truth).
test_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='LoadHDRTargets'),
    dict(
        type='CropBothHands',
        out_size=256,  # the two-hand crop of the paper config
        box_scale=2.0,
        context_factor=2.0,
        mask_keys=['gt_hand_masks'],
        context_keys=['gt_alone_right', 'gt_alone_left']),
    dict(type='PackHDRInputs', meta_keys={{_base_.meta_keys}}),
]
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
# the paper config's metrics (a list: mmengine cannot extend a base list)
# and the intermediate stages' quality
test_evaluator = [
    dict(
        type='HandMPJPEMetric',
        root_indices=(20, 41),
        pred_key='keypoints_3d',
        gt_key='keypoints_cam'),
    dict(type='HDRStageMetric'),
    dict(type='InterHandMetric', modes=['MRRPE']),
]
default_hooks = dict(logger=dict(interval=20))
env_cfg = dict(cudnn_benchmark=False)
