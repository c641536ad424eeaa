"""The main job: HDR end to end on the embedded generated data.

1. checks every stage's config and ``--cfg-options`` (a typo fails in
   seconds, before anything is generated or trained);
2. generates the synthetic interacting-hand data (once);
3. trains the three stages with their small CPU configs, each with
   ``tools/train.py`` in a child process (a fork of the job where the OS
   has fork) and its own work dir (a stage whose final checkpoint
   exists is not trained again: delete it to retrain; it then keeps the
   seed it was trained with);
4. combines the stage checkpoints into one pipeline checkpoint;
5. evaluates on the generated test split what SHPE does when fed the raw
   hand crops ("SHPE alone"), TDR's output ("HDR + SHPE") and each hand
   rendered alone ("ceiling": a perfect TDR), the same crops for all
   three in one pass, and prints the table, the stages' own numbers and
   where the time went;
6. writes demo panels of a few interacting test frames.

    python tools/hdr_main_job.py [--work-dir work_dirs/main_job]
        [--seed 0] [--cfg-options STAGE.KEY=VALUE ...]

``--cfg-options`` overrides the job's configs: ``hasm.``, ``tdr.`` and
``shpe.`` keys go to that stage's ``tools/train.py --cfg-options``,
``hdr.`` keys to the pipeline config (test data, evaluation), e.g.
``tdr.train_cfg.max_iters=600 hdr.synthetic_data.num_samples=1000``.
``--seed`` is every stage's training seed (``randomness.seed``) unless a
stage's options set one.

Results go to ``<work_dir>/results.json`` (the metrics of each
evaluation, ``errors`` with bootstrap intervals, ``stages``, ``timing``,
``seed``, ``cpu``) and ``results.md``; the reporting is
``tools/hdr_main_job_report.py``.

``tools/run_main_job.sh`` sets up the environment first and runs this.
"""
import argparse
import copy
import glob
import json
import multiprocessing
import os
import os.path as osp
import runpy
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))

#: stage name -> (config, how its last checkpoint is named)
STAGES = {
    'hasm':
    'configs/hasm/hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py',
    'tdr': 'configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py',
    'shpe': 'configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py',
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


def stage_timing(work_dir: str) -> Dict:
    """The ``timing.json`` that ``StageTimingHook`` wrote in a stage's
    work dir, its loop's wall seconds as ``loop_seconds``; empty if
    there is none."""
    path = osp.join(work_dir, 'timing.json')
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        record = json.load(f)
    record['loop_seconds'] = record.pop('seconds', None)
    return record


def run_script(script: str, argv: Sequence[str]) -> None:
    """Run a tool script in this process as ``python script *argv``.

    Args:
        script: Path of the script.
        argv: Its command line.

    Raises:
        SystemExit: a non-zero exit of the script.
    """
    saved = sys.argv
    sys.argv = [script, *argv]
    try:
        runpy.run_path(script, run_name='__main__')
    finally:
        sys.argv = saved


def run_in_child(script: str, argv: Sequence[str]) -> None:
    """Run a tool script in a child process and wait for it.

    Where the OS can fork, the child is a fork of this process, so it
    starts with the OpenMMLab stack already imported (``import hdr_mm``
    takes 8-9 s on 2 cores) and still leaves nothing behind here (memory,
    registries, loggers) when it ends. The job forks only before it runs
    any torch operation itself (the trainings come before the
    evaluations), so no OpenMP thread pool is copied half-started.
    Elsewhere the child is a new interpreter.

    Args:
        script: Path of the script.
        argv: Its command line.

    Raises:
        subprocess.CalledProcessError: the child exited non-zero.
    """
    cmd = [sys.executable, script, *argv]
    if 'fork' not in multiprocessing.get_all_start_methods():
        subprocess.run(cmd, cwd=ROOT, check=True)
        return
    child = multiprocessing.get_context('fork').Process(
        target=run_script, args=(script, list(argv)))
    sys.stdout.flush()
    sys.stderr.flush()
    child.start()
    child.join()
    if child.exitcode != 0:
        raise subprocess.CalledProcessError(child.exitcode, cmd)


def train_stage(stage: str, config: str, cfg, work_dir: str,
                options: Sequence[str] = ()) -> Tuple[str, Dict]:
    """Train one stage with tools/train.py unless it is already trained.

    Args:
        stage: Stage name (for the log).
        config: The stage's config file.
        cfg: That config with ``options`` merged (:func:`check_configs`).
        work_dir: Its work dir.
        options: ``KEY=VALUE`` overrides for ``--cfg-options``.

    Returns:
        tuple: the stage's final checkpoint and its timing: ``seconds``
        (the training process) with the split of :func:`stage_timing`;
        for a stage already trained ``skipped`` and that split of the
        earlier run (``seconds`` its loop's) when it was recorded.
    """
    done = final_checkpoint(cfg, work_dir)
    if done:
        log(f'{stage}: found {done}, not training again (delete it to '
            'retrain)')
        earlier = stage_timing(work_dir)
        if earlier:
            earlier['seconds'] = earlier['loop_seconds']
        return done, dict(earlier, skipped=True)
    argv = [config, '--work-dir', work_dir]
    if options:
        argv += ['--cfg-options', *options]
    if last_checkpoint(work_dir):
        argv.append('--resume')  # an interrupted run continues
    log(f'{stage}: training: tools/train.py {" ".join(argv)}')
    start = time.perf_counter()
    run_in_child(osp.join(ROOT, 'tools/train.py'), argv)
    seconds = time.perf_counter() - start
    done = final_checkpoint(cfg, work_dir)
    if not done:
        raise RuntimeError(f'{stage}: training ended without its final '
                           f'checkpoint in {work_dir}')
    log(f'{stage}: trained in {seconds:.0f} s -> {done}')
    return done, dict(stage_timing(work_dir), seconds=seconds)


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


def check_configs(options: Dict[str, List[str]]) -> Dict:
    """Every config of the job with its options merged and checked as
    ``tools/train.py`` and ``tools/test.py`` check theirs, before any data
    is generated (:func:`~hdr_mm.engine.config_check.check_config` with
    ``before_data``).

    Args:
        options: From :func:`split_options`.

    Returns:
        dict: target (:data:`OPTION_TARGETS`) -> its merged ``Config``.

    Raises:
        ValueError: naming the target and what is wrong.
    """
    from hdr_mm.engine.config_check import check_config
    cfgs = {}
    for target, config in dict(STAGES, hdr=HDR_CONFIG).items():
        try:
            cfg = load_config(config, options[target])
            check_config(cfg, before_data=True)
        except ValueError as e:  # ConfigOptionError, ConfigCheckError
            raise ValueError(f'{target} ({config}): {e}') from e
        cfgs[target] = cfg
    return cfgs


def with_seed(options: Dict[str, List[str]], seed: int) -> None:
    """Add ``randomness.seed=seed`` to each stage's options that set no
    ``randomness`` themselves (in place)."""
    for stage in STAGES:
        if not any(o.startswith('randomness.seed=')
                   or o.startswith('randomness=') for o in options[stage]):
            options[stage].append(f'randomness.seed={seed}')


def evaluate(cfg, hdr_ckpt: str, work_dir: str,
             evaluations: Dict[str, str]) -> Dict[str, Dict]:
    """Test the pipeline config once, SHPE fed every input of
    ``evaluations`` in the same pass (HASM, the hand cutting and TDR run
    once; ``HDRPoseEstimator.extra_shpe_inputs``), and score each input
    with the config's metrics.

    Args:
        cfg: The pipeline config (not changed).
        hdr_ckpt: The combined checkpoint.
        work_dir: The job's work dir; the test run's logs go to ``eval``
            there, each evaluation's per-frame errors to
            ``eval_<name>/per_frame.npz``.
        evaluations: Name -> ``shpe_input``; the first is the model's
            main input, the others its extra inputs.

    Returns:
        dict: name -> its metrics, keyed as a test of that input alone
        keys them.
    """
    from hdr_mm.engine.runner_setup import build_runner
    cfg = copy.deepcopy(cfg)
    main, *extra = evaluations
    cfg.model.shpe_input = evaluations[main]
    cfg.model.extra_shpe_inputs = [evaluations[n] for n in extra]
    cfg.model.pop('use_tdr', None)  # the job chooses the input

    def metrics_of(name: str) -> List[Dict]:
        metrics = copy.deepcopy(list(cfg.test_evaluator))
        os.makedirs(osp.join(work_dir, f'eval_{name}'), exist_ok=True)
        for metric in metrics:
            if metric['type'] == 'HandMPJPEMetric':
                metric['per_frame_file'] = osp.join(
                    work_dir, f'eval_{name}', 'per_frame.npz')
        return metrics

    cfg.test_evaluator = metrics_of(main) + [
        dict(type='SHPEInputMetric', shpe_input=evaluations[name],
             prefix=f'eval_{name}', metrics=metrics_of(name))
        for name in extra
    ]
    cfg.work_dir = osp.join(work_dir, 'eval')
    cfg.load_from = hdr_ckpt
    cfg.launcher = 'none'
    scores = build_runner(cfg).test()
    out: Dict[str, Dict] = {name: {} for name in evaluations}
    for key, value in scores.items():
        head, _, rest = key.partition('/')
        name = head[len('eval_'):]
        if head.startswith('eval_') and name in extra:
            out[name][rest] = value
        else:
            out[main][key] = value
    return out


def training_depth_gap(cfgs: Dict, hdr_options: Sequence[str]
                       ) -> Optional[Dict]:
    """Measure the depth gap of interacting hands on the SHPE stage's
    training split and set the pipeline's ``model.depth_gap_mm`` to its
    median (in place), unless ``hdr.`` options set it.

    Args:
        cfgs: Target -> its ``Config`` (:func:`check_configs`).
        hdr_options: The ``hdr.`` options.

    Returns:
        dict | None: the statistics of ``tools/analysis_tools/
        depth_gap.py``; None if the options set the gap or the split has
        no interacting frame (each hand is then placed on its own).
    """
    if any(o.startswith('model.depth_gap_mm=') for o in hdr_options):
        return None
    from analysis_tools.depth_gap import measure_depth_gap
    root = osp.join(cfgs['shpe'].synthetic_data.out_dir, 'interhand2.6m')
    try:
        stats = measure_depth_gap(root, 'train')
    except ValueError as e:  # no interacting frame to measure
        log(f'{e}: each hand is placed on its own')
        return None
    cfgs['hdr'].model.depth_gap_mm = round(stats['median'], 1)
    return stats


def unique_data(cfgs: Dict) -> List[Dict]:
    """The distinct ``synthetic_data`` dicts of the job's configs.

    Args:
        cfgs: Target -> its ``Config`` (:func:`check_configs`).

    Returns:
        list[dict]: each generated dataset once (the stages share their
        training set; the pipeline config has its own test split), in
        the order of ``cfgs``.
    """
    out: List[Dict] = []
    for cfg in cfgs.values():
        data = cfg.get('synthetic_data')
        if data is not None and dict(data) not in out:
            out.append(dict(data))
    return out


class StepTimes:
    """Wall seconds of the job's steps, in the order they ran."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.steps: Dict[str, Dict] = {}

    @contextmanager
    def __call__(self, step: str) -> Iterator[Dict]:
        """Time the block as ``step``; yields its entry (add to it)."""
        entry: Dict = {}
        start = time.perf_counter()
        try:
            yield entry
        finally:
            entry.setdefault('seconds', time.perf_counter() - start)
            self.steps[step] = entry

    def as_dict(self) -> Dict[str, Dict]:
        """The steps and ``total`` (the job so far)."""
        return dict(self.steps,
                    total=dict(seconds=time.perf_counter() - self.start))


def write_results(work_dir: str, results: Dict, text: str) -> None:
    """``results.json`` and ``results.md`` in ``work_dir``, atomically."""
    from hdr_mm.utils import atomic_write

    def dump(obj, as_json):
        def write(tmp):
            with open(tmp, 'w') as f:
                if as_json:
                    json.dump(obj, f, indent=1)
                else:
                    f.write(obj + '\n')
        return write

    atomic_write(osp.join(work_dir, 'results.json'), dump(results, True),
                 overwrite=True)
    atomic_write(osp.join(work_dir, 'results.md'), dump(text, False),
                 overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/main_job')
    parser.add_argument(
        '--demo-frames', type=int, default=3,
        help='how many interacting test frames get a demo panel')
    parser.add_argument(
        '--seed', type=int, default=0,
        help='training seed of every stage (randomness.seed) unless its '
        '--cfg-options set one')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[], metavar='STAGE.KEY=VALUE',
        help='override the job\'s configs; STAGE is one of '
        f'{", ".join(OPTION_TARGETS)} (hasm/tdr/shpe: passed to that '
        'stage\'s tools/train.py --cfg-options; hdr: the pipeline config '
        'of the test data and the evaluation)')
    args = parser.parse_args()
    options = split_options(args.cfg_options)
    with_seed(options, args.seed)
    os.chdir(ROOT)
    os.environ.setdefault('OMP_NUM_THREADS', '2')
    times = StepTimes()

    import hdr_mm  # noqa: F401
    from hdr_mm.datasets.synthetic import ensure_synthetic_hands
    from hdr_mm.models.hdr.stage_builder import combine_stage_checkpoints
    from hdr_mm.utils import cpu_info, cpu_line
    from hdr_main_job_report import (EVALUATIONS, compare, results_table,
                                     stage_numbers, stages_table,
                                     timing_table)

    cpu = cpu_info()
    log(f'cpu: {cpu_line(cpu)}')
    try:
        cfgs = check_configs(options)
    except ValueError as e:
        sys.exit(f'main job: {e}')
    log('configs and options of every stage checked')

    # the stages' training data and the test split, generated here with
    # every core rather than by the first training on first use
    data = cfgs['hdr'].synthetic_data
    with times('data'):
        for data_cfg in unique_data(cfgs):
            log(f'data: {data_cfg["out_dir"]}')
            data_cfg.setdefault('workers', os.cpu_count() or 1)
            ensure_synthetic_hands(**data_cfg, progress=True)

    # the placement's depth gap of two interacting hands, measured on the
    # stages' training split (never on the test split)
    with times('depth_gap'):
        gap = training_depth_gap(cfgs, options['hdr'])
    if gap is not None:
        log(f'depth gap of interacting hands (training split median): '
            f'{gap["median"]:.1f} mm')

    ckpts = {}
    for stage, config in STAGES.items():
        ckpts[stage], times.steps[f'train_{stage}'] = train_stage(
            stage, config, cfgs[stage], osp.join(args.work_dir, stage),
            options[stage])

    hdr_ckpt = osp.join(args.work_dir, 'hdr.pth')
    stamp = osp.join(args.work_dir, 'hdr.json')
    with times('combine'):
        if osp.isfile(stamp) and json.load(open(stamp)) == ckpts \
                and osp.isfile(hdr_ckpt):
            log(f'pipeline checkpoint {hdr_ckpt} is up to date')
        else:
            combine_stage_checkpoints(ckpts, hdr_ckpt, HDR_CONFIG,
                                      overwrite=True)
            with open(stamp, 'w') as f:
                json.dump(ckpts, f)
            log(f'pipeline checkpoint: {hdr_ckpt}')

    log('evaluating ' + ', '.join(label for _, label in EVALUATIONS.values())
        + ' on the generated test split, in one pass')
    with times('evaluate'):
        metrics = evaluate(
            cfgs['hdr'], hdr_ckpt, args.work_dir,
            {name: shpe_input for name, (shpe_input, _) in
             EVALUATIONS.items()})
    errors = compare(args.work_dir)
    stages = stage_numbers(metrics, osp.join(args.work_dir, 'shpe'))
    text = results_table(metrics, errors) + '\n\n' + stages_table(stages)
    print(text, flush=True)
    results = dict(
        metrics, errors=errors, stages=stages, seed=args.seed,
        depth_gap=gap,
        stage_seeds={s: cfgs[s].get('randomness', {}).get('seed')
                     for s in STAGES}, cpu=cpu)
    write_results(args.work_dir, dict(results, timing=times.as_dict()),
                  text)

    demo = osp.join(ROOT, 'demo', 'hdr_demo.py')
    if osp.isfile(demo) and args.demo_frames > 0:
        frames = sorted(glob.glob(osp.join(
            data.out_dir, 'interhand2.6m', 'images', 'test', 'Capture0',
            'synthetic_interacting', '*', '*.jpg')))[:args.demo_frames]
        out_dir = osp.join(args.work_dir, 'demo')
        # the panels place the hands as the evaluation did
        gap_mm = cfgs['hdr'].model.get('depth_gap_mm')
        placement = ([] if gap_mm is None else
                     ['--cfg-options', f'model.depth_gap_mm={gap_mm}'])
        with times('demo'):
            # one demo process for all frames (a folder of links to them):
            # the models are built and compiled once
            frame_dir = osp.join(args.work_dir, 'demo_frames')
            shutil.rmtree(frame_dir, ignore_errors=True)
            os.makedirs(frame_dir)
            for frame in frames:
                os.symlink(osp.abspath(frame),
                           osp.join(frame_dir, osp.basename(frame)))
            # in this process: the stack is imported already
            run_script(demo, [frame_dir, HDR_CONFIG, hdr_ckpt, '--out-dir',
                              out_dir, *placement])
        log(f'demo panels: {out_dir}')
    timing = times.as_dict()
    table = f'{timing_table(timing)}\n\nCPU: {cpu_line(cpu)}'
    print(table, flush=True)
    text += f'\n\n{table}'
    write_results(args.work_dir, dict(results, timing=timing), text)
    log(f'done in {timing["total"]["seconds"] / 60:.1f} min; results in '
        f'{args.work_dir}/results.md')


if __name__ == '__main__':
    main()
