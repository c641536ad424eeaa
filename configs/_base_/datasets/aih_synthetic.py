# AIH data for TDR, generated on first use (docs/data_layout.md).
# Samples are AIH_render crops (already centred on the target hand at
# 2x its amodal box); the crop below re-centres them on the target's
# amodal mask after mirroring, which also serves real AIH data.
_base_ = ['./synthetic_hands.py']

dataset_type = 'AIHDataset'
data_root = 'data/synthetic_hands'
img_size = 256

train_pipeline = [
    dict(type='LoadAIHSample'),
    dict(type='MirrorToRight'),
    dict(type='GetHandBBox', mask_key='r_amodal'),
    dict(type='GetBBoxCenterScale', padding=2.0),
    dict(type='TopdownAffine', input_size=(img_size, img_size)),
    dict(type='WarpExtraKeys', image_keys=['gt_img'],
         mask_keys=['r_amodal', 'l_amodal', 'rl_visible']),
    dict(type='TDRMaskAlgebra'),
    dict(type='PackTDRInputs'),
]
val_pipeline = train_pipeline

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        render_dir='AIH_render',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        render_dir='AIH_render',
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
