"""HDRDataPreprocessor: two-hand crops stacked, context windows of any
size padded into one batch."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from hdr_mm.models.hdr import HDRDataPreprocessor


def _frame(seed, side, context_hw):
    g = torch.Generator().manual_seed(seed)
    return dict(
        img=torch.randint(0, 256, (3, side, side), generator=g,
                          dtype=torch.uint8),
        context=torch.randint(1, 256, (3, *context_hw), generator=g,
                              dtype=torch.uint8))


def test_built_from_the_registry():
    init_default_scope('mmpose')
    assert isinstance(MODELS.build(dict(type='HDRDataPreprocessor')),
                      HDRDataPreprocessor)


def test_batches_crops_and_pads_windows():
    frames = [_frame(0, 8, (5, 7)), _frame(1, 8, (9, 4))]
    samples = ['sample0', 'sample1']
    data = pseudo_collate([dict(inputs=f, data_samples=s)
                           for f, s in zip(frames, samples)])
    out = HDRDataPreprocessor()(data)
    img, context = out['inputs']['img'], out['inputs']['context']
    assert out['data_samples'] == samples
    assert img.shape == (2, 3, 8, 8) and img.dtype == torch.float32
    # each window keeps its pixel coordinates: at the top left, zeros
    # at the bottom and right up to the largest window
    assert context.shape == (2, 3, 9, 7) and context.dtype == torch.float32
    for n, f in enumerate(frames):
        torch.testing.assert_close(img[n], f['img'].float())
        h, w = f['context'].shape[1:]
        torch.testing.assert_close(context[n, :, :h, :w],
                                   f['context'].float())
        assert not context[n, :, h:].any() and not context[n, :, :, w:].any()
    assert img.max() > 1  # 0-255, not normalised


def test_stacked_inputs_pass_through_as_float():
    img = torch.full((2, 3, 4, 4), 7, dtype=torch.uint8)
    context = torch.full((2, 3, 6, 5), 9, dtype=torch.uint8)
    out = HDRDataPreprocessor()(dict(inputs=dict(img=img, context=context)))
    assert out['data_samples'] is None
    torch.testing.assert_close(out['inputs']['img'], img.float())
    torch.testing.assert_close(out['inputs']['context'], context.float())


def test_bad_inputs_are_named():
    pre = HDRDataPreprocessor()
    good = _frame(0, 8, (5, 5))
    with pytest.raises(KeyError, match='PackHDRInputs.*got Tensor'):
        pre(dict(inputs=torch.zeros(1, 3, 8, 8)))
    with pytest.raises(KeyError, match=r"with keys \['img'\]"):
        pre(dict(inputs=dict(img=[good['img']])))
    with pytest.raises(ValueError, match='two-hand crops must be square'):
        pre(dict(inputs=dict(img=[torch.zeros(3, 8, 6, dtype=torch.uint8)],
                             context=[good['context']])))
    with pytest.raises(ValueError, match=r'crops must be \(3, h, w\)'):
        pre(dict(inputs=dict(img=[torch.zeros(1, 8, 8, dtype=torch.uint8)],
                             context=[good['context']])))
    with pytest.raises(ValueError, match=r'windows must be \(3, h, w\)'):
        pre(dict(inputs=dict(img=[good['img']],
                             context=[torch.zeros(5, 5)])))
    with pytest.raises(ValueError, match='crops of different sizes'):
        pre(dict(inputs=dict(img=[good['img'], _frame(1, 6, (5, 5))['img']],
                             context=[good['context']] * 2)))
    with pytest.raises(ValueError, match='2 two-hand crops but 1 context'):
        pre(dict(inputs=dict(img=[good['img']] * 2,
                             context=[good['context']])))
    with pytest.raises(ValueError, match='must be'):
        pre(dict(inputs=dict(img=[], context=[])))
