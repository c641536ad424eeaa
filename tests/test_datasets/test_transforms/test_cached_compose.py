import copy
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

import hdr_mm  # noqa: F401  (registers the components)
from hdr_mm.datasets.transforms import CachedCompose
from hdr_mm.datasets.transforms import cached_compose
from hdr_mm.datasets.transforms.cached_compose import first_difference


class CountingLoad:
    """A deterministic 'loading' step that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, results):
        self.calls += 1
        results['img'] = np.full((4, 4, 3), results['idx'], np.uint8)
        results['mask'] = torch.full((4, 4), results['idx'])
        return results


def test_each_input_runs_once_and_outputs_equal_the_transforms():
    load = CountingLoad()
    cached = CachedCompose([load])
    for epoch in range(3):
        for idx in range(5):
            out = cached(dict(idx=idx, path=f'f{idx}.png'))
            assert out['img'].shape == (4, 4, 3)
            assert (out['img'] == idx).all() and (out['mask'] == idx).all()
            assert out['path'] == f'f{idx}.png'
    # 5 distinct inputs, the first one run twice (the determinism check)
    assert load.calls == 6
    assert len(cached) == 5
    assert cached.cached_bytes == 5 * (48 + 16 * 8)


def test_inputs_that_differ_in_any_key_do_not_share_an_entry():
    load = CountingLoad()
    cached = CachedCompose([load])
    a = cached(dict(idx=1, bbox=np.array([0., 0., 4., 4.])))
    b = cached(dict(idx=1, bbox=np.array([0., 0., 4., 5.])))
    assert len(cached) == 2
    assert a['bbox'][3] == 4 and b['bbox'][3] == 5


def test_a_hit_is_a_copy_the_next_transforms_may_change():
    cached = CachedCompose([CountingLoad()])
    out = cached(dict(idx=3))
    out['img'][:] = 0
    out['mask'][:] = 0
    out['extra'] = 1
    again = cached(dict(idx=3))
    assert (again['img'] == 3).all() and (again['mask'] == 3).all()
    assert 'extra' not in again
    again['img'][:] = 9
    assert (cached(dict(idx=3))['img'] == 3).all()


def test_random_transforms_are_refused():

    def jitter(results):
        results['img'] = np.random.rand(2, 2)
        return results

    cached = CachedCompose([CountingLoad(), jitter])
    with pytest.raises(ValueError, match=r"results\['img'\].*move random"):
        cached(dict(idx=0))


def test_cache_stops_growing_at_max_bytes_and_says_so(monkeypatch):
    logged = []
    monkeypatch.setattr(cached_compose, 'print_log',
                        lambda msg, logger: logged.append(msg))
    load = CountingLoad()
    # one entry holds 48 + 128 bytes: room for two
    cached = CachedCompose([load], max_bytes=400)
    for idx in range(4):
        cached(dict(idx=idx))
    assert len(cached) == 2 and cached.cached_bytes == 352
    assert len(logged) == 1 and 'cache full at 2 outputs' in logged[0]
    # past the limit every call runs the transforms, with correct outputs
    calls = load.calls
    out = cached(dict(idx=3))
    assert (out['img'] == 3).all() and load.calls == calls + 1
    out = cached(dict(idx=0))
    assert (out['img'] == 0).all() and load.calls == calls + 1


def test_bad_arguments_and_unpicklable_inputs():
    with pytest.raises(ValueError, match='transforms is empty'):
        CachedCompose([])
    with pytest.raises(ValueError, match='max_bytes must be > 0'):
        CachedCompose([CountingLoad()], max_bytes=0)
    with pytest.raises(TypeError, match=r"picklable.*\['fn', 'idx'\]"):
        CachedCompose([CountingLoad()])(dict(idx=0, fn=lambda x: x))

    def unpicklable(x):
        return x

    def add_lambda(results):  # an output that cannot be kept pickled
        results['fn'] = unpicklable
        return results

    with pytest.raises(TypeError, match='output.*must be picklable'):
        CachedCompose([CountingLoad(), add_lambda])(dict(idx=0))


def test_first_difference_names_the_key():
    a = dict(img=np.zeros(3), meta=dict(ids=[1, 2]), t=torch.zeros(2))
    assert first_difference(a, copy.deepcopy(a)) is None
    b = copy.deepcopy(a)
    b['meta']['ids'][1] = 5
    assert first_difference(a, b) == "results['meta']['ids'][1] (values " \
        'differ)'
    b = copy.deepcopy(a)
    b['t'] = torch.zeros(3)
    assert 'shape or dtype' in first_difference(a, b)
    nan = dict(x=np.array([np.nan]))
    assert first_difference(nan, copy.deepcopy(nan)) is None


def _uncached(pipeline):
    """The pipeline with every CachedCompose replaced by its transforms."""
    flat = []
    for step in pipeline:
        if step['type'].endswith('CachedCompose'):
            flat.extend(step['transforms'])
        else:
            flat.append(step)
    return flat


@pytest.mark.parametrize('config, key, scope, root', [
    ('configs/hasm/hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py',
     'train_dataloader', 'mmseg', ''),
    ('configs/hasm/hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py',
     'val_dataloader', 'mmseg', ''),
    ('configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py',
     'train_dataloader', 'mmpose', ''),
    ('configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py',
     'train_dataloader', 'mmpose', 'interhand2.6m'),
])
def test_main_job_pipelines_give_the_samples_of_the_uncached_ones(
        config, key, scope, root, repo_root, synthetic_root):
    """Two epochs of the main job's cached pipelines: every sample equal
    to the plain pipeline's under the same random state."""
    from mmseg.registry import DATASETS as SEG_DATASETS
    cfg = Config.fromfile(f'{repo_root}/{config}')
    ds_cfg = cfg[key].dataset
    ds_cfg.data_root = str(synthetic_root / root)
    plain_cfg = copy.deepcopy(ds_cfg)
    plain_cfg.pipeline = _uncached(ds_cfg.pipeline)
    assert len(plain_cfg.pipeline) > len(ds_cfg.pipeline)
    init_default_scope(scope)
    registry = SEG_DATASETS if scope == 'mmseg' else DATASETS
    cached, plain = registry.build(ds_cfg), registry.build(plain_cfg)
    n = min(len(cached), 4)
    for _ in range(2):
        for i in range(n):
            outs = []
            for ds in (cached, plain):
                random.seed(i)
                np.random.seed(i)
                torch.manual_seed(i)
                outs.append(ds[i])
            a, b = outs
            assert torch.equal(a['inputs'], b['inputs'])
            assert first_difference(a['data_samples'].to_dict(),
                                    b['data_samples'].to_dict()) is None
    (step, ) = [t for t in cached.pipeline.transforms
                if isinstance(t, CachedCompose)]
    assert len(step) == n


def test_pass_keys_go_around_the_transforms_by_reference():
    seen = []

    def look(results):
        seen.append(sorted(results))
        return results

    owner = object()  # e.g. mmpose's dataset, not picklable in general
    cached = CachedCompose([CountingLoad(), look])
    for _ in range(2):
        out = cached(dict(idx=2, dataset=owner))
        assert out['dataset'] is owner and (out['img'] == 2).all()
    # the check's two runs, then hits
    assert seen == [['idx', 'img', 'mask']] * 2
    other = object()
    assert cached(dict(idx=2, dataset=other))['dataset'] is other
    assert len(cached) == 1
