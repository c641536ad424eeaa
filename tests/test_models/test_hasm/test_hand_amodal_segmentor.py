"""HandAmodalSegmentor built from the small HASM config: loss and predict."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import hdr_mm  # noqa: F401
from hdr_mm.models.hasm import HAND_MASK_NAMES, unpack_hand_masks

CONFIG = osp.join(
    osp.dirname(__file__), '../../../configs/hasm/'
    'hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py')


@pytest.fixture(scope='module')
def model():
    cfg = Config.fromfile(CONFIG)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    m = MODELS.build(cfg.model)
    m.init_weights()
    return m


def batch(n=2, size=128):
    torch.manual_seed(0)
    inputs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
              for _ in range(n)]
    data_samples = []
    for _ in range(n):
        ds = SegDataSample()
        ds.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (4, size, size)))
        ds.set_metainfo(
            dict(img_shape=(size, size), ori_shape=(size, size),
                 mask_names=HAND_MASK_NAMES))
        data_samples.append(ds)
    return dict(inputs=inputs, data_samples=data_samples)


def test_loss_has_one_term_per_branch(model):
    model.train()
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode='loss')
    for name in HAND_MASK_NAMES:
        for term in ('loss_ce', 'loss_dice'):  # the config's two losses
            assert losses[f'decode.{term}_{name}'].ndim == 0
            assert torch.isfinite(losses[f'decode.{term}_{name}'])
        assert f'decode.acc_seg_{name}' in losses


def test_predict_returns_four_masks(model):
    model.eval()
    data = model.data_preprocessor(batch(n=2), training=False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert len(out) == 2
    for ds in out:
        assert ds.seg_logits.data.shape == (8, 128, 128)
        pred = ds.pred_sem_seg.data
        assert pred.shape == (4, 128, 128)
        assert set(pred.unique().tolist()) <= {0, 1}
        # each mask is the argmax of its own branch
        logits = ds.seg_logits.data
        for k in range(4):
            assert torch.equal(pred[k], logits[2 * k:2 * k + 2].argmax(0))
        masks = unpack_hand_masks(ds)
        assert list(masks) == list(HAND_MASK_NAMES)
        assert torch.equal(masks['r_visible'], pred[3])
    with torch.no_grad():
        tensor_out = model(data['inputs'], mode='tensor')
    assert tensor_out.shape == (2, 8, 32, 32)


def test_predict_masks_is_the_argmax_of_each_branch(model):
    """The pipeline's masks: each branch's arg-max at the crops' size,
    ties going to background as ``argmax`` gives them."""
    torch.manual_seed(1)
    logits = torch.randn(2, 8, 16, 16)
    logits[:, 3, :4] = logits[:, 2, :4]  # ties in branch 1
    masks = model.predict_masks(
        torch.zeros(2, 3, 16, 16), network=lambda x, metas: logits)
    expected = logits.view(2, 4, 2, 16, 16).argmax(dim=2).float()
    assert torch.equal(masks, expected)
    assert not masks[:, 1, :4].any()
    # logits of another size are brought to the crops' size first
    small = model.predict_masks(
        torch.zeros(2, 3, 32, 32), network=lambda x, metas: logits)
    assert small.shape == (2, 4, 32, 32)


def test_postprocess_unflips_and_swaps_hands(model):
    # Hand-made logits: branch k says "hand" exactly on column k.
    logits = torch.zeros(1, 8, 4, 4)
    for k in range(4):
        logits[0, 2 * k + 1, :, k] = 1.0
    ds = SegDataSample()
    ds.set_metainfo(
        dict(ori_shape=(4, 4), img_shape=(4, 4), flip=True,
             flip_direction='horizontal'))
    pred = model.postprocess_result(logits, [ds])[0].pred_sem_seg.data
    # Un-flipping moves column k to column 3 - k, and the hands swap:
    # output l_amodal comes from the r_amodal branch (k=2) and so on.
    for out_k, src_k in enumerate([2, 3, 0, 1]):
        expected = torch.zeros(4, 4, dtype=torch.long)
        expected[:, 3 - src_k] = 1
        assert torch.equal(pred[out_k], expected), out_k
