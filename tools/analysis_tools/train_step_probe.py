"""Time one training step of a config in fp32, bf16 autocast and with
``channels_last``, side by side.

    python tools/analysis_tools/train_step_probe.py CONFIG [CONFIG ...] \
        [--variants fp32,fp32_cl,bf16,bf16_cl] [--iters 10] [--warmup 3] \
        [--threads 2] [--out probe.json]

For each config a model is built per variant (same seed, same initial
weights) with the config's optimiser wrapper; one batch of the config's
train dataloader is taken once and ``model.train_step(batch,
optim_wrapper)`` (forward, backward, optimiser step; both networks for
the TDR GAN) is timed ``--iters`` times after ``--warmup`` steps. The
variants interleave (A B C D A B C D ...), so that a drift of the shared
machine's speed hits all of them alike; the median per variant and its
ratio to fp32 are printed.

Variants:

- ``fp32``: the config as it is (every wrapper set to ``OptimWrapper``);
- ``fp32_cl``: the same with the model in ``channels_last``;
- ``bf16``: every wrapper ``CPUAmpOptimWrapper`` (bf16 autocast);
- ``bf16_cl``: both.

Loading data happens once and is not timed: this measures the model.
"""
import argparse
import copy
import json
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

VARIANTS = ('fp32', 'fp32_cl', 'bf16', 'bf16_cl')


def set_wrapper_type(optim_cfg: dict, wrapper_type: str) -> dict:
    """A copy of an ``optim_wrapper`` config with every wrapper (the
    single one, or each member of a multi-wrapper config) of
    ``wrapper_type``."""
    cfg = copy.deepcopy(optim_cfg)
    members = ([cfg] if 'optimizer' in cfg else
               [v for v in cfg.values() if isinstance(v, dict)])
    for m in members:
        m['type'] = wrapper_type
        m.pop('loss_scale', None)
    return cfg


def build_variant(cfg, variant: str, seed: int = 0):
    """Model and optimiser wrapper of one variant, same initial weights
    for every variant (same seed)."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model = revert_sync_batchnorm(model)
    model.train()
    if variant.endswith('_cl'):
        model.to(memory_format=torch.channels_last)
    wrapper = ('CPUAmpOptimWrapper'
               if variant.startswith('bf16') else 'OptimWrapper')
    optim = build_optim_wrapper(model,
                                set_wrapper_type(cfg.optim_wrapper, wrapper))
    return model, optim


def first_batch(cfg) -> dict:
    """One batch of the config's train dataloader."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg['num_workers'] = 0
    loader_cfg['persistent_workers'] = False
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    return next(iter(loader))


def probe(config: str, variants: Sequence[str], iters: int,
          warmup: int) -> Dict[str, Dict[str, float]]:
    """Median step time (s) of each variant and the ratio to fp32.

    Returns:
        dict: variant -> ``median_s``, ``min_s``, ``speedup`` (fp32 median
        / this median, when fp32 is among the variants), ``loss_first``
        (the loss of the first step: equal initial weights check).
    """
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    import hdr_mm  # noqa: F401  (registers everything)
    # a quiet current logger: init_weights logs every tensor
    MMLogger.get_instance('hdr_train_step_probe', log_level='WARNING')
    cfg = Config.fromfile(config)
    batch = first_batch(cfg)
    built = {v: build_variant(cfg, v) for v in variants}
    times: Dict[str, List[float]] = {v: [] for v in variants}
    first: Dict[str, float] = {}
    for step in range(warmup + iters):
        for v in variants:
            model, optim = built[v]
            t0 = time.perf_counter()
            log = model.train_step(copy.copy(batch), optim)
            dt = time.perf_counter() - t0
            if step == 0:
                first[v] = float(sum(float(x) for k, x in log.items()
                                     if k.startswith('loss')))
            if step >= warmup:
                times[v].append(dt)
    out = {}
    for v in variants:
        med = float(np.median(times[v]))
        out[v] = dict(median_s=med, min_s=float(np.min(times[v])),
                      loss_first=first[v])
    if 'fp32' in out:
        for v in variants:
            out[v]['speedup'] = out['fp32']['median_s'] / out[v]['median_s']
    return out


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--variants', default=','.join(VARIANTS))
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int)
    parser.add_argument('--out')
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(',') if v.strip()]
    bad = sorted(set(variants) - set(VARIANTS))
    if bad:
        parser.error(f'unknown variants {bad}; choose from {VARIANTS}')
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    print(f'torch threads {torch.get_num_threads()}, '
          f'{args.warmup} warm-up + {args.iters} timed steps, interleaved\n')
    print('| config | ' + ' | '.join(f'{v} ms (x fp32)' for v in variants)
          + ' |')
    print('|---|' + '---:|' * len(variants))
    for config in args.configs:
        res = probe(config, variants, args.iters, args.warmup)
        results[config] = res
        cells = [f'{1e3 * r["median_s"]:.0f} ({r.get("speedup", 1):.2f}x)'
                 for r in res.values()]
        print(f'| {osp.basename(config)} | ' + ' | '.join(cells) + ' |',
              flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
