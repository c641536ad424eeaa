# HDR with a stock mmpose 2D hand model as its SHPE: the pipeline of
# configs/hdr/hdr_tiny_synthetic-256x256.py (HASM and TDR as trained by the
# main job) with this project's RTMPose-t in place of the DetNet SHPE,
# through this config only. RTMPose predicts 2D joints, so the pipeline
# outputs `keypoints` (1, 42, 2) and no `keypoints_3d`; it is scored by the
# 2D metric (EPE in pixels and PCK@0.2 of each hand's box, split
# single / interacting / all) and HDRStageMetric (masks and crops).
#
#   python tools/test.py projects/stock_shpe/configs/\
#       hdr_rtmpose-t_tiny_synthetic-256x256.py hdr_rtmpose.pth
#   # "SHPE alone" on the same crops:  --cfg-options model.use_tdr=False
#
# The checkpoint combines the three stage checkpoints
# (tools/misc/combine_hdr_checkpoint.py), or give them per stage with
# --cfg-options model.hasm.checkpoint=... model.tdr.checkpoint=...
# model.shpe.checkpoint=... (and any checkpoint argument).
_base_ = ['../../../configs/hdr/hdr_tiny_synthetic-256x256.py']

shpe_config = ('projects/stock_shpe/configs/'
               'rtmpose-t_1xb32-20e_synthetic-hands-128x128.py')
# The SHPE config already sets model.type='SingleHandPoseEstimator' (HDR
# mirrors left-hand crops; that class un-mirrors the predictions). With a
# stock mmpose config as it is, do the same here instead:
#   shpe=dict(config=..., cfg_options={
#       'model.type': 'SingleHandPoseEstimator',
#       'model.test_cfg.flip_test': False})
# A stock head decodes its own outputs (no decode_maps): the graph engines
# cannot serve it, so 'auto' chooses the precision only, in PyTorch.
# These SHPEs train on the amodal box x2 (GetBBoxCenterScale padding=2.0),
# so they read the whole hand crop, not the x1.5 window of the DetNet SHPE.
model = dict(
    shpe=dict(config=shpe_config), shpe_padding=None, backend='pytorch')

test_evaluator = [
    dict(type='Hand2DMetric', num_hands=2, thr=0.2),
    dict(type='HDRStageMetric'),
]
