# TDR as in the paper (docs/method.md section 3): 8-level partial-conv U-Net
# with four PVTv2 stages (75.1 M state-dict values with the reference's
# all-ones mask kernels, 42.2 M stored here), spectral-norm inpainting
# discriminator, Adam 8e-4 / D 0.1x with betas (0, 0.9), 70k iterations,
# loss weights 1 valid + 6 hole (x2) + 0.1 TV + 0.1 perceptual + 250 style
# + 0.1 adversarial, on AIH (AIH_render + AIH_syn) 256x256 crops.
#
# The VGG16 weights (torchvision's ``vgg16-397923af.pth``) must be put at
# ``vgg_weights`` by hand: nothing is downloaded. Set
# ``model.perceptual_loss.vgg_weights=None`` to train without the
# perceptual and style terms.
_base_ = ['../_base_/datasets/aih_synthetic.py']

custom_imports = dict(imports=['hdr_mm'], allow_failed_imports=False)
default_scope = 'mmpose'

data_root = 'data/AIH'
synthetic_data = None  # real AIH: nothing to generate
input_size = (256, 256)  # read by the HDR pipeline (= the base img_size)
vgg_weights = 'checkpoints/vgg16-397923af.pth'
# batch size and validation cadence are not given by the paper: ours
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(
        data_root=data_root,
        render_dir='AIH_render',
        syn_dir='AIH_syn',
        annot_types=('machine_annot', 'human_annot')))
# AIH_render has a train split only; validate on AIH_syn
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(data_root=data_root, render_dir=None,
                 syn_dir='AIH_syn', annot_types=('machine_annot', )))
test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    dataset=dict(data_root=data_root, render_dir=None,
                 syn_dir='AIH_syn', split='test',
                 annot_types=('machine_annot', 'human_annot')))

lr = 8e-4
model = dict(
    type='TDR',
    data_preprocessor=dict(type='TDRDataPreprocessor',
                           mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    generator=dict(
        type='PConvUNet',
        in_channels=8,
        out_channels=3,
        enc_channels=(64, 128, 256, 512, 512, 512, 512, 512),
        enc_kernels=(7, 5, 5, 3, 3, 3, 3, 3),
        transformers=dict(
            enc3=dict(num_heads=2, mlp_ratio=8, sr_ratio=4),
            enc5=dict(num_heads=8, mlp_ratio=4, sr_ratio=1),
            dec5=dict(num_heads=8, mlp_ratio=4, sr_ratio=1),
            dec3=dict(num_heads=2, mlp_ratio=8, sr_ratio=4))),
    discriminator=dict(type='InpaintDiscriminator', in_channels=5,
                       channels=(64, 128, 256, 512), strides=(2, 2, 2, 1),
                       use_sigmoid=True),
    valid_loss=dict(type='MaskedL1Loss', loss_weight=1.0),
    hole_loss=dict(type='MaskedL1Loss', loss_weight=6.0),
    tv_loss=dict(type='TotalVariationLoss', loss_weight=0.1),
    perceptual_loss=dict(type='PerceptualStyleLoss',
                         vgg_weights=vgg_weights, perceptual_weight=0.1,
                         style_weight=250.0),
    gan_loss=dict(type='NSGANLoss', loss_weight=0.1),
    test_cfg=dict(dilate_kernel=9))

# TDR.train_step steps G and D itself: distributed runs wrap each network
# separately and call it (as mmagic's GANs do)
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper',
                   optimizer=dict(type='Adam', lr=lr)),
    discriminator=dict(type='OptimWrapper',
                       optimizer=dict(type='Adam', lr=0.1 * lr,
                                      betas=(0.0, 0.9))))

train_cfg = dict(by_epoch=False, max_iters=70000, val_interval=5000)
val_cfg = dict()
test_cfg = dict()
val_evaluator = dict(type='TDRMetric')
test_evaluator = val_evaluator

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000,
                    max_keep_ckpts=3, save_best='tdr/deocc/psnr',
                    rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [
    dict(type='NaNLossGuardHook'),
    dict(type='TDRVisualizationHook', interval=50, max_per_batch=2),
]
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
