"""The main job: HDR end to end on the embedded generated data.

1. generates the synthetic interacting-hand data (once);
2. trains the three stages with their small CPU configs, each with
   ``tools/train.py`` in its own work dir (a stage whose final checkpoint
   exists is not trained again: delete it to retrain);
3. combines the stage checkpoints into one pipeline checkpoint;
4. evaluates "SHPE alone" and "HDR + SHPE" on the generated test split
   (the same crops; the only difference is TDR) and prints the table;
5. writes demo panels of a few interacting test frames.

    python tools/hdr_main_job.py [--work-dir work_dirs/main_job]
        [--cfg-options STAGE.KEY=VALUE ...]

``--cfg-options`` overrides the job's configs: ``hasm.``, ``tdr.`` and
``shpe.`` keys go to that stage's ``tools/train.py --cfg-options``,
``hdr.`` keys to the pipeline config (test data, evaluation), e.g.
``tdr.train_cfg.max_iters=600 hdr.synthetic_data.num_samples=1000``.

``tools/run_main_job.sh`` sets up the environment first and runs this.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

#: stage name -> (config, how its last checkpoint is named)
STAGES = {
    'hasm': 'configs/hasm/hasm_segformer_mit-b0_1xb8-1k_synthetic-128x128.py',
    'tdr': 'configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py',
    'shpe': 'configs/shpe/shpe_detnet-tiny_b16-adam_synthetic-128x128.py',
}
HDR_CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'
#: the configs ``--cfg-options`` can address: the stages and the pipeline
OPTION_TARGETS = tuple(STAGES) + ('hdr', )


def log(msg: str) -> None:
    print(f'[main job {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's ``last_checkpoint`` file points to."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        path = f.read().strip()
    return path if osp.isfile(path) else None


def final_checkpoint(cfg, work_dir: str) -> Optional[str]:
    """The checkpoint a finished training run of ``cfg`` leaves."""
    train_cfg = cfg.train_cfg
    if train_cfg.get('by_epoch', False) or 'max_epochs' in train_cfg:
        name = f'epoch_{train_cfg.max_epochs}.pth'
    else:
        name = f'iter_{train_cfg.max_iters}.pth'
    path = osp.join(work_dir, name)
    return path if osp.isfile(path) else None


def train_stage(stage: str, config: str, work_dir: str,
                options: Sequence[str] = ()) -> str:
    """Train one stage with tools/train.py unless it is already trained.

    Args:
        stage: Stage name (for the log).
        config: The stage's config.
        work_dir: Its work dir.
        options: ``KEY=VALUE`` overrides for ``--cfg-options``.

    Returns:
        str: the stage's final checkpoint.
    """
    cfg = load_config(config, options)
    done = final_checkpoint(cfg, work_dir)
    if done:
        log(f'{stage}: found {done}, not training again (delete it to '
            'retrain)')
        return done
    cmd = [sys.executable, osp.join(ROOT, 'tools/train.py'), config,
           '--work-dir', work_dir]
    if options:
        cmd += ['--cfg-options', *options]
    if last_checkpoint(work_dir):
        cmd.append('--resume')  # an interrupted run continues
    log(f'{stage}: training: {" ".join(cmd[1:])}')
    start = time.time()
    subprocess.run(cmd, cwd=ROOT, check=True)
    done = final_checkpoint(cfg, work_dir)
    if not done:
        raise RuntimeError(f'{stage}: training ended without its final '
                           f'checkpoint in {work_dir}')
    log(f'{stage}: trained in {time.time() - start:.0f} s -> {done}')
    return done


def split_options(options: Sequence[str]) -> Dict[str, List[str]]:
    """``STAGE.KEY=VALUE`` strings -> ``{STAGE: ['KEY=VALUE', ...]}``.

    Raises:
        ValueError: an option without ``=`` or for an unknown target.
    """
    out: Dict[str, List[str]] = {t: [] for t in OPTION_TARGETS}
    for opt in options:
        target, _, rest = opt.partition('.')
        if target not in out or not rest.partition('=')[0] or \
                '=' not in rest:
            raise ValueError(
                f'--cfg-options {opt!r}: expected STAGE.KEY=VALUE with '
                f'STAGE one of {OPTION_TARGETS}')
        out[target].append(rest)
    return out


def load_config(config: str, options: Sequence[str] = ()):
    """A config with ``KEY=VALUE`` options merged and checked as
    ``tools/train.py`` and ``tools/test.py`` merge their
    ``--cfg-options``."""
    from mmengine.config import Config, DictAction

    from hdr_mm.engine.config_options import merge_cfg_options
    cfg = Config.fromfile(osp.join(ROOT, config))
    if options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        merge_cfg_options(cfg, parser.parse_args(['--o', *options]).o)
    return cfg


def evaluate(hdr_ckpt: str, work_dir: str, use_tdr: bool,
             options: Sequence[str] = ()) -> Dict:
    """Test the pipeline config with or without TDR; returns metrics.

    The per-frame errors go to ``<work_dir>/eval_*/per_frame.npz``.
    """
    from hdr_mm.engine.runner_setup import build_runner
    cfg = load_config(HDR_CONFIG, options)
    cfg.model.use_tdr = use_tdr
    cfg.work_dir = osp.join(work_dir, 'eval_hdr' if use_tdr else
                            'eval_shpe_alone')
    for metric in cfg.test_evaluator:
        if metric.type == 'HandMPJPEMetric':
            metric.per_frame_file = osp.join(cfg.work_dir, 'per_frame.npz')
    cfg.load_from = hdr_ckpt
    cfg.launcher = 'none'
    runner = build_runner(cfg)
    return runner.test()


def compare(work_dir: str) -> Dict[str, Dict[str, float]]:
    """Both columns per split and mode with 95 % bootstrap intervals over
    frames, and the paired gain of HDR + SHPE over SHPE alone."""
    import numpy as np

    from hdr_mm.evaluation.functional import (bootstrap_gain,
                                              bootstrap_mean, split_masks)
    runs = {k: np.load(osp.join(work_dir, f'eval_{k}', 'per_frame.npz'))
            for k in ('shpe_alone', 'hdr')}
    a, h = runs['shpe_alone'], runs['hdr']
    if a['frames'].tolist() != h['frames'].tolist():
        raise RuntimeError('the two evaluations saw different frames')
    out = {}
    for split, keep in split_masks(a['interacting']).items():
        for mode in ('MPJPE', 'PA-MPJPE'):
            s_a, s_h = a[f'{mode}_sum'][keep], h[f'{mode}_sum'][keep]
            cnt = a[f'{mode}_count'][keep]
            out[f'{mode} {split}'] = dict(
                alone=bootstrap_mean(s_a, cnt),
                hdr=bootstrap_mean(s_h, cnt),
                gain=bootstrap_gain(s_a, cnt, s_h, cnt))
    return out


def print_table(alone: Dict, hdr: Dict, errors: Dict) -> str:
    """Format the comparison; returns the text printed."""

    def ci(d, scale=1., unit=''):
        return (f'{d["mean"] * scale:.2f} [{d["low"] * scale:.2f}, '
                f'{d["high"] * scale:.2f}]{unit}')

    rows = ['| generated test split | SHPE alone | HDR + SHPE | gain |',
            '|---|---:|---:|---:|']
    for key, d in errors.items():
        g = d['gain']
        rows.append(
            f'| {key} (mm, {d["alone"]["frames"]} frames) | '
            f'{ci(d["alone"])} | {ci(d["hdr"])} | {100 * g["gain"]:+.1f}% '
            f'[{100 * g["low"]:+.1f}, {100 * g["high"]:+.1f}] |')
    for key, label in (('mrrpe/MRRPE', 'MRRPE (mm)'),
                       ('hdr/mask/mIoU', 'HASM mask mIoU'),
                       ('hdr/deocc/psnr', 'PSNR, de-occlusion hole (dB)'),
                       ('hdr/removal/psnr', 'PSNR, removal hole (dB)'),
                       ('hdr/repaint/psnr', 'PSNR, repaint region (dB)')):
        found = [k for k in alone if k.endswith(key.split('/', 1)[1])]
        if found:
            k = found[0]
            rows.append(f'| {label} | {alone[k]:.3f} | {hdr[k]:.3f} | |')
    text = '\n'.join(rows)
    print(text, flush=True)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/main_job')
    parser.add_argument(
        '--demo-frames', type=int, default=3,
        help='how many interacting test frames get a demo panel')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[], metavar='STAGE.KEY=VALUE',
        help='override the job\'s configs; STAGE is one of '
        f'{", ".join(OPTION_TARGETS)} (hasm/tdr/shpe: passed to that '
        'stage\'s tools/train.py --cfg-options; hdr: the pipeline config '
        'of the test data and the evaluation)')
    args = parser.parse_args()
    options = split_options(args.cfg_options)
    os.chdir(ROOT)
    os.environ.setdefault('OMP_NUM_THREADS', '2')
    start = time.time()

    import hdr_mm  # noqa: F401
    from hdr_mm.datasets.synthetic import ensure_synthetic_hands
    from hdr_mm.models.hdr.stage_builder import combine_stage_checkpoints

    data = load_config(HDR_CONFIG, options['hdr']).synthetic_data
    log(f'data: {data.out_dir}')
    ensure_synthetic_hands(**data, progress=True)

    ckpts = {}
    for stage, config in STAGES.items():
        ckpts[stage] = train_stage(stage, config,
                                   osp.join(args.work_dir, stage),
                                   options[stage])

    hdr_ckpt = osp.join(args.work_dir, 'hdr.pth')
    stamp = osp.join(args.work_dir, 'hdr.json')
    if osp.isfile(stamp) and json.load(open(stamp)) == ckpts \
            and osp.isfile(hdr_ckpt):
        log(f'pipeline checkpoint {hdr_ckpt} is up to date')
    else:
        combine_stage_checkpoints(ckpts, hdr_ckpt, HDR_CONFIG, overwrite=True)
        with open(stamp, 'w') as f:
            json.dump(ckpts, f)
        log(f'pipeline checkpoint: {hdr_ckpt}')

    log('evaluating SHPE alone (no TDR) on the generated test split')
    alone = evaluate(hdr_ckpt, args.work_dir, False, options['hdr'])
    log('evaluating HDR + SHPE on the generated test split')
    hdr = evaluate(hdr_ckpt, args.work_dir, True, options['hdr'])
    errors = compare(args.work_dir)
    table = print_table(alone, hdr, errors)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(shpe_alone=alone, hdr=hdr, errors=errors), f,
                  indent=1)

    demo = osp.join(ROOT, 'demo', 'hdr_demo.py')
    if osp.isfile(demo) and args.demo_frames > 0:
        frames = sorted(glob.glob(osp.join(
            data.out_dir, 'interhand2.6m', 'images', 'test', 'Capture0',
            'synthetic_interacting', '*', '*.jpg')))[:args.demo_frames]
        out_dir = osp.join(args.work_dir, 'demo')
        for frame in frames:
            subprocess.run([
                sys.executable, demo, frame, HDR_CONFIG, hdr_ckpt,
                '--out-dir', out_dir
            ], cwd=ROOT, check=True)
        log(f'demo panels: {out_dir}')
    log(f'done in {(time.time() - start) / 60:.1f} min; results in '
        f'{args.work_dir}/results.md')


if __name__ == '__main__':
    main()
