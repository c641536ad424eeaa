import copy

import pytest
import torch
from mmengine.optim import OptimWrapperDict
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement
from torch.utils.data import Dataset

import hdr_mm  # noqa: F401  (registers the TDR components)
from hdr_mm.engine import HDRRunner
from mmpose.registry import DATASETS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS

init_default_scope('mmpose')

SMALL_G = dict(type='PConvUNet', enc_channels=(8, 16, 16, 16),
               enc_kernels=(7, 5, 5, 3),
               transformers=dict(enc3=dict(num_heads=2, mlp_ratio=2,
                                           sr_ratio=2),
                                 dec3=dict(num_heads=2, mlp_ratio=2,
                                           sr_ratio=1)))
SMALL_D = dict(type='InpaintDiscriminator', channels=(8, 16, 16, 16))
MODEL = dict(type='TDR', generator=SMALL_G, discriminator=SMALL_D)
OPTIM = dict(constructor='MultiOptimWrapperConstructor',
             generator=dict(optimizer=dict(type='Adam', lr=1e-3)),
             discriminator=dict(optimizer=dict(type='Adam', lr=1e-4,
                                               betas=(0.0, 0.9))))


def make_sample(seed, hw=32, holes=True):
    """A sample in the PackTDRInputs format (docs/data_layout.md)."""
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 256, (3, hw, hw), generator=g, dtype=torch.uint8)
    gt = torch.randint(0, 256, (3, hw, hw), generator=g, dtype=torch.uint8)
    masks = torch.zeros(4, hw, hw, dtype=torch.uint8)
    if holes:
        masks[0, 4:20, 4:20] = 1          # A_t
        masks[1] = masks[0]
        masks[1, 4:10, 4:20] = 0          # V_t: top rows hidden
        masks[2, 2:10, 4:28] = 1          # A_o
        masks[3] = masks[2]
    s = BaseDataElement(gt_img=gt, hand_masks=masks,
                        metainfo=dict(img_path=f'toy_{seed}.png'))
    return dict(inputs=img, data_samples=s)


def batch(n=2, **kw):
    items = [make_sample(i, **kw) for i in range(n)]
    return dict(inputs=[i['inputs'] for i in items],
                data_samples=[i['data_samples'] for i in items])


def build():
    torch.manual_seed(0)
    model = MODELS.build(MODEL)
    model.init_weights()
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type='MultiOptimWrapperConstructor',
             optim_wrapper_cfg={k: v for k, v in OPTIM.items()
                                if k != 'constructor'}))
    return model, ctor(model)


def test_gan_train_step_changes_both_networks():
    model, optim = build()
    assert isinstance(optim, OptimWrapperDict)
    g0 = copy.deepcopy(model.generator.state_dict())
    d0 = copy.deepcopy(model.discriminator.state_dict())
    log = model.train_step(batch(), optim)
    for k in ('loss_disc', 'loss_d_real', 'loss_d_fake', 'loss_adv',
              'loss_valid', 'loss_hole_deocc', 'loss_hole_removal',
              'loss_tv', 'loss'):
        assert k in log and torch.isfinite(torch.as_tensor(log[k])), k
    assert 'loss_perceptual_deocc' not in log  # no VGG file configured
    g_changed = [k for k, v in model.generator.state_dict().items()
                 if v.dtype.is_floating_point and not torch.equal(v, g0[k])]
    d_changed = [k for k, v in model.discriminator.state_dict().items()
                 if k.endswith('weight_orig') and not torch.equal(v, d0[k])]
    assert 'encoders.0.pconv.conv.weight' in g_changed
    assert 'decoders.0.pconv.conv.bias' in g_changed
    assert len(d_changed) == len(model.discriminator.convs)
    # the discriminator is trainable again after the generator update
    assert all(p.requires_grad for p in model.discriminator.parameters())
    # its gradients were cleared by its own update, the generator pass
    # left none behind
    assert all(p.grad is None or not p.grad.any()
               for p in model.discriminator.parameters())


def test_train_step_needs_optim_dict():
    model, optim = build()
    with pytest.raises(TypeError, match='OptimWrapperDict'):
        model.train_step(batch(), optim['generator'])


def test_predict_keeps_input_outside_repaint_region():
    model, _ = build()
    model.eval()
    data = batch()
    with torch.no_grad():
        out = model.val_step(data)
    for inp, s in zip(data['inputs'], out):
        m = s.hand_masks.float()
        keep = (1 - m[0] * (1 - m[1])) * (1 - (1 - m[0]) * m[2])
        far = torch.nn.functional.max_pool2d(
            (1 - keep)[None, None], 11, 1, 5)[0, 0] == 0
        assert torch.equal(s.pred_img[:, far], inp[:, far])
        assert s.pred_img.dtype == torch.uint8
        inside = keep == 0
        assert torch.equal(s.pred_img[:, inside], s.pred_raw[:, inside])
    # no hole at all: the input comes back unchanged
    data = batch(holes=False)
    with torch.no_grad():
        out = model.test_step(data)
    for inp, s in zip(data['inputs'], out):
        assert torch.equal(s.pred_img, inp)


def test_preprocessor_errors():
    model, _ = build()
    data = batch()
    data['data_samples'][1].hand_masks = data['data_samples'][1] \
        .hand_masks * 3
    with pytest.raises(ValueError, match='only 0 and 1'):
        model.val_step(data)
    data = batch()
    del data['data_samples'][0].hand_masks
    with pytest.raises(KeyError, match='toy_0.png.*hand_masks'):
        model.val_step(data)
    data = batch()
    del data['data_samples'][0].gt_img
    with pytest.raises(KeyError, match='gt_img'):
        model.train_step(data, build()[1])


@DATASETS.register_module(force=True)
class ToyTDRDataset(Dataset):

    def __init__(self, n=4, hw=32):
        self.items = [make_sample(i, hw) for i in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _runner(work_dir, max_iters, resume):
    # hdr_mm's Runner (what tools/train.py builds): mmengine's own reads
    # checkpoints with torch's bare weights-only load, which refuses them
    return HDRRunner(
        model=MODEL,
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dict(type='ToyTDRDataset'), batch_size=2,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'), num_workers=0),
        optim_wrapper=OPTIM,
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='NaNLossGuardHook')],
        resume=resume, default_scope='mmpose',
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0))


def test_resume_restores_both_optimisers(tmp_path):
    runner = _runner(tmp_path, 2, False)
    runner.train()
    saved = torch.load(tmp_path / 'iter_2.pth', map_location='cpu',
                       weights_only=False)
    assert set(saved['optimizer']) == {'generator', 'discriminator'}

    runner = _runner(tmp_path, 3, True)
    runner.load_or_resume()
    assert runner.iter == 2
    for name in ('generator', 'discriminator'):
        state = runner.optim_wrapper[name].state_dict()['state']
        ref = saved['optimizer'][name]['state']
        assert state.keys() == ref.keys() and len(state) > 0
        for idx in ref:
            assert int(state[idx]['step']) == 2
            torch.testing.assert_close(state[idx]['exp_avg'],
                                       ref[idx]['exp_avg'])
    assert runner.optim_wrapper['discriminator'].param_groups[0][
        'betas'] == (0.0, 0.9)
    runner.train()
    assert runner.iter == 3
    state = runner.optim_wrapper['discriminator'].state_dict()['state']
    assert all(int(s['step']) == 3 for s in state.values())


def test_perceptual_and_style_terms_with_local_vgg(tmp_path):
    from torchvision.models import vgg16
    path = str(tmp_path / 'vgg16.pth')
    torch.save(vgg16(weights=None).state_dict(), path)
    model = MODELS.build(dict(MODEL, perceptual_loss=dict(
        type='PerceptualStyleLoss', vgg_weights=path)))
    losses = model(**model.data_preprocessor(batch(), True), mode='loss')
    for k in ('loss_perceptual_deocc', 'loss_style_deocc',
              'loss_perceptual_removal', 'loss_style_removal'):
        assert k in losses and losses[k] > 0, k
    # no VGG weights enter the model's state dict
    assert not any('vgg' in k for k in model.state_dict())
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        MODELS.build(dict(MODEL, perceptual_loss=dict(
            type='PerceptualStyleLoss',
            vgg_weights=str(tmp_path / 'missing.pth'))))
