"""The benchmark command (``tools/analysis_tools/benchmark.py``): its
arguments and its main path."""
import argparse
import json
from typing import Any, Dict, List, Optional, Sequence

import torch

from .authors import (AUTHORS_MODE, authors_setup, check_authors_repo,
                      check_paper_size, compose_authors,
                      load_authors_networks)
from .flops import stage_flops
from .machine import gemm_peak, machine_line
from .modes import BENCH_MODES, MODES, setup_modes, time_modes
from .pipeline import STAGES, build_pipeline
from .report import report, report_text

DEFAULT_CONFIG = 'configs/hdr/hdr_paper_interhand2.6m-256x256.py'
#: GEMM peak name -> its dtype (the order of the report)
_PEAK_DTYPES = dict(fp32=torch.float32, bf16=torch.bfloat16)


def parse_int_list(text: str) -> List[int]:
    """``'1,2, 4'`` -> ``[1, 2, 4]``; every value must be a positive int.

    Args:
        text: Comma-separated integers.

    Returns:
        list: the integers, in the order given.

    Raises:
        argparse.ArgumentTypeError: on an empty list or a bad value.
    """
    try:
        values = [int(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected comma-separated integers, got {text!r}')
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f'expected positive integers, got {text!r}')
    return values


def _parse_choice_list(text: str, choices: Sequence[str],
                       what: str) -> List[str]:
    """Comma-separated names among ``choices``, in ``choices``' order
    without repeats; ``what`` names them in the error."""
    names = {s.strip() for s in text.split(',') if s.strip()}
    unknown = sorted(names - set(choices))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f'unknown {what}(s) {unknown or text!r}; choose from '
            f'{",".join(choices)}')
    return [s for s in choices if s in names]


def parse_stages(text: str) -> List[str]:
    """``'hdr,hasm'`` -> ``['hasm', 'hdr']`` (pipeline order, no repeats).

    Args:
        text: Comma-separated names among :data:`STAGES`.

    Returns:
        list: the stages, in pipeline order.

    Raises:
        argparse.ArgumentTypeError: on an unknown stage name.
    """
    return _parse_choice_list(text, STAGES, 'stage')


def parse_modes(text: str) -> List[str]:
    """``'bf16,eager'`` -> ``['eager', 'bf16']`` (:data:`MODES` order).

    Args:
        text: Comma-separated names among :data:`MODES`.

    Returns:
        list: the modes, in :data:`MODES` order.

    Raises:
        argparse.ArgumentTypeError: on an unknown mode name.
    """
    return _parse_choice_list(text, MODES, 'mode')


def _check_args(parser: argparse.ArgumentParser,
                args: argparse.Namespace) -> None:
    """Refuse combinations the benchmark cannot run (``parser.error``)."""
    if args.num_iters < 1 or args.warmup < 0:
        parser.error('--num-iters must be >= 1 and --warmup >= 0')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: CUDA is not available')
    if device.type not in ('cpu', 'cuda'):
        parser.error('--device: only cpu and cuda are supported')
    cpu_only = [m for m in args.modes if BENCH_MODES[m].cpu_only]
    if device.type == 'cuda' and cpu_only:
        parser.error(f'--modes {",".join(cpu_only)}: runs on the CPU only')
    native = [m for m in args.modes if BENCH_MODES[m].native_bf16]
    if native:
        from hdr_mm.deploy.auto import machine_facts
        facts = machine_facts(device.type)
        if facts.native_bf16 is None:
            parser.error(
                f'--modes {",".join(native)}: bf16 needs a CPU with native '
                f'bf16 (AMX or AVX512-BF16), this is {facts.describe()}; '
                'the engine would run f32 (use openvino)')
    if 'fp32c' in args.modes and args.warmup < 1:
        parser.error('--modes fp32c compiles during the warm-up: '
                     '--warmup must be >= 1')
    if args.authors_repo is not None:
        if 'eager' not in args.modes:
            parser.error('--authors-repo: --modes must include eager (the '
                         "authors' hasm and hdr are composed from it)")
        try:
            check_authors_repo(args.authors_repo)
        except (OSError, ImportError) as e:
            parser.error(str(e))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command's arguments.

    Args:
        argv: The arguments; None: ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: the parsed and checked arguments.
    """
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Latency, throughput and efficiency of the HDR stages '
        'and pipeline (random weights) in several precisions/backends.')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='HDR pipeline config (default: paper size)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of the HDR config, key=value')
    parser.add_argument('--modes', type=parse_modes, default=['eager'],
                        help=f'comma list of {",".join(MODES)} (default '
                        "eager); 'auto' is what the pipeline runs by "
                        'default, the report says what it chose and why')
    parser.add_argument('--device', default='cpu',
                        help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--batch-sizes', type=parse_int_list, default=[1],
                        help='two-hand images per batch (default 1)')
    parser.add_argument('--num-iters', type=int, default=10,
                        help='timed iterations per stage and batch size')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed iterations first')
    parser.add_argument('--threads', type=int,
                        help='torch.set_num_threads and the graph '
                        "engines' inference threads (default: torch's)")
    parser.add_argument('--stages', type=parse_stages, default=list(STAGES),
                        help=f'comma list of {",".join(STAGES)}')
    parser.add_argument('--no-flops', action='store_true',
                        help='skip the FLOP count')
    parser.add_argument('--out', help='also write the results as JSON')
    parser.add_argument(
        '--authors-repo', metavar='PATH',
        help="a clone of the authors' repository (git clone "
        'https://github.com/MengHao666/HDR): adds the column '
        f"{AUTHORS_MODE!r}, their TDR generator and DetNet (random "
        'weights) timed on the same inputs, interleaved; hasm taken '
        "equal to eager's, hdr = eager hdr - eager (tdr + shpe) + theirs. "
        'THIS IMPORTS AND RUNS THEIR CODE (two modules and what they '
        'import, not their package __init__ files); needs timm and '
        'einops, eager among --modes and the paper-size config')
    args = parser.parse_args(argv)
    _check_args(parser, args)
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the benchmark, print its report and write ``--out``.

    Args:
        argv: The command's arguments; None: ``sys.argv[1:]``.

    Returns:
        dict: every number (what ``--out`` writes): the run's settings,
        ``machine``, ``gemm_peak``, ``runtimes`` (per mode, what runs
        and, for ``'auto'``, why), ``flops``, ``summary`` (per mode and
        stage) and ``results`` (mode -> stage -> batch size as str ->
        statistics); with ``--authors-repo`` also the mode
        ``'authors'`` (its composed results marked ``composed``).

    Raises:
        SystemExit: ``--authors-repo`` with a config whose TDR or SHPE is
            not the authors' paper-size network, or their modules fail to
            import.
    """
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    info = machine_line(device)

    model, _ = build_pipeline(args.config, args.cfg_options)
    theirs = None
    if args.authors_repo is not None:
        try:
            theirs = load_authors_networks(args.authors_repo)
            check_paper_size(model, theirs)
        except (OSError, ImportError, ValueError) as e:
            raise SystemExit(f'benchmark: error: {e}')
    stages = [s for s in args.stages if s != 'tdr' or model.tdr is not None]
    flops = {} if args.no_flops else stage_flops(model, stages)
    del model
    setups, cfg = setup_modes(args.config, args.cfg_options, args.modes,
                              device, args.threads)
    if theirs is not None:
        setups[AUTHORS_MODE] = authors_setup(theirs, args.authors_repo,
                                             device)
    mode_peaks = {m: s.peak for m, s in setups.items()}
    runtimes = {m: s.describe() for m, s in setups.items()}
    peaks = {p: gemm_peak(_PEAK_DTYPES[p], device)
             for p in sorted(set(mode_peaks.values()) | {'fp32'},
                             key=list(_PEAK_DTYPES).index)}
    results = compose_authors(time_modes(setups, cfg, device, stages,
                                         args.batch_sizes, args.warmup,
                                         args.num_iters))
    tables, summary = report(results, flops, peaks, stages, mode_peaks)
    print(report_text(args.config, args.batch_sizes, args.warmup,
                      args.num_iters, info, peaks, tables, runtimes))
    out = dict(config=args.config, modes=list(setups),
               authors_repo=args.authors_repo,
               batch_sizes=args.batch_sizes, warmup=args.warmup,
               num_iters=args.num_iters, machine=info, gemm_peak=peaks,
               runtimes=runtimes, flops=flops, summary=summary,
               results={m: {s: {str(b): v for b, v in per.items()}
                            for s, per in r.items()}
                        for m, r in results.items()})
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=2, default=str)
        print(f'\nwrote {args.out}')
    return out
