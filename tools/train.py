"""Train an hdr_mm model from a config with mmengine's Runner.

Examples:
    python tools/train.py configs/shpe/shpe_detnet_tiny_synthetic.py
    python tools/train.py CONFIG --work-dir work_dirs/x --resume
    bash tools/dist_train.sh CONFIG 2      # torchrun, gloo on CPU
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

# make `import hdr_mm` work from a source checkout without installation
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from hdr_mm.engine.config_options import (  # noqa: E402
    CFG_OPTIONS_HELP, merge_cfg_options)
from hdr_mm.engine.runner_setup import (build_runner,  # noqa: E402
                                        set_default_launcher_env)
from hdr_mm.utils.checkpoint_loading import (  # noqa: E402
    UNSAFE_HELP, checkpoint_loading)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train an hdr_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or from the latest checkpoint '
        'in the work dir when no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate with the actual batch size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=CFG_OPTIONS_HELP)
    parser.add_argument(
        '--unsafe-load', action='store_true', help=UNSAFE_HELP)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local_rank, torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.amp:
        # mmengine's AmpOptimWrapper (fp16 + loss scaler) needs CUDA; on a
        # CPU-only machine train under bf16 autocast instead
        import torch
        amp_type = ('AmpOptimWrapper'
                    if torch.cuda.is_available() else 'CPUAmpOptimWrapper')

        def to_amp(wrapper_cfg: dict) -> None:
            wrapper_cfg['type'] = amp_type
            if amp_type == 'AmpOptimWrapper':
                wrapper_cfg.setdefault('loss_scale', 'dynamic')
            else:
                wrapper_cfg.pop('loss_scale', None)

        amp_types = ('OptimWrapper', 'AmpOptimWrapper', 'CPUAmpOptimWrapper')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if 'constructor' not in cfg.optim_wrapper or \
                'optimizer' in cfg.optim_wrapper:
            if optim_wrapper in amp_types:
                to_amp(cfg.optim_wrapper)
        else:
            # e.g. an OptimWrapperDict: switch every member wrapper
            for sub in cfg.optim_wrapper.values():
                if isinstance(sub, dict) and sub.get(
                        'type', 'OptimWrapper') in amp_types:
                    to_amp(sub)
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    return cfg


def main() -> None:
    args = parse_args()
    set_default_launcher_env(args.launcher)
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    cfg = merge_args(cfg, args)
    with checkpoint_loading(unsafe=args.unsafe_load):
        runner = build_runner(cfg)
        runner.train()


if __name__ == '__main__':
    main()
