"""What ``tools/hdr_main_job.py`` reports: the comparison of its three
evaluations, the stages' own numbers, where the time went, and their
tables.

The three evaluations run the same pipeline checkpoint on the same crops
and differ only in what SHPE is fed (``HDRPoseEstimator.shpe_input``):
the raw crops ("SHPE alone"), TDR's output ("HDR + SHPE"), or each hand
rendered alone ("ceiling": what a perfect TDR would give).
"""
import glob
import json
import os.path as osp
import re
from typing import Dict, List, Optional

import numpy as np

from hdr_mm.evaluation.functional import (bootstrap_gain, bootstrap_mean,
                                          split_masks)

#: evaluation name -> (``shpe_input``, column label); the first is the
#: baseline of the gains
EVALUATIONS = {
    'shpe_alone': ('crop', 'SHPE alone'),
    'hdr': ('tdr', 'HDR + SHPE'),
    'ceiling': ('gt_alone', 'ceiling (perfect TDR)'),
}
#: evaluation name -> its column key in the rows of :func:`compare`
COLUMNS = {'shpe_alone': 'alone', 'hdr': 'hdr', 'ceiling': 'ceiling'}
#: pipeline metrics shown under the errors: key suffix -> label
METRIC_ROWS = (('MRRPE', 'MRRPE (mm)'), ('mask/mIoU', 'HASM mask mIoU'),
               ('deocc/psnr', 'PSNR, de-occlusion hole (dB)'),
               ('removal/psnr', 'PSNR, removal hole (dB)'),
               ('repaint/psnr', 'PSNR, repaint region (dB)'),
               ('true_deocc/psnr', 'PSNR, true hidden part (dB)'),
               ('true_removal/psnr', 'PSNR, true other hand (dB)'))
#: the TDR regions of :func:`stage_numbers`: HDRStageMetric's region ->
#: how the stages table names it
TDR_REGIONS = (('deocc', 'de-occlusion hole'), ('removal', 'removal hole'),
               ('true_deocc', 'true hidden part'),
               ('true_removal', 'true other hand'))
#: keys of a logged line that are no metrics
NOT_METRICS = frozenset(
    {'step', 'epoch', 'iter', 'time', 'data_time', 'memory', 'lr'})


def metric(metrics: Dict[str, float], suffix: str) -> Optional[float]:
    """A metric by its name without its metric's prefix.

    Args:
        metrics: Metric key -> value, as ``runner.test()`` returns them.
        suffix: E.g. ``'mask/mIoU'`` for ``'hdr/mask/mIoU'``.

    Returns:
        float or None: the value of the first key that is ``suffix`` or
        ends with ``/suffix``; None if there is none.
    """
    for key, value in metrics.items():
        if key == suffix or key.endswith('/' + suffix):
            return value
    return None


def compare(work_dir: str) -> Dict[str, Dict]:
    """The three columns per split and mode with 95 % bootstrap intervals
    over frames, the paired gains over SHPE alone, and HDR's share of the
    ceiling's gain.

    Args:
        work_dir: The job's work dir, with ``eval_<name>/per_frame.npz``
            of every evaluation of :data:`EVALUATIONS`.

    Returns:
        dict: ``'<mode> <split>'`` -> ``alone``, ``hdr``, ``ceiling``
        (``bootstrap_mean``), ``gain`` and ``ceiling_gain``
        (``bootstrap_gain`` over ``alone``) and ``share`` (HDR's gain over
        the ceiling's; None when the ceiling gains nothing).

    Raises:
        RuntimeError: the evaluations saw different frames.
    """
    runs = {
        name: np.load(osp.join(work_dir, f'eval_{name}', 'per_frame.npz'))
        for name in EVALUATIONS
    }
    base = runs['shpe_alone']
    for name, run in runs.items():
        if run['frames'].tolist() != base['frames'].tolist():
            raise RuntimeError(f'the evaluations {name} and shpe_alone saw '
                               'different frames')
    out = {}
    for split, keep in split_masks(base['interacting']).items():
        for mode in ('MPJPE', 'PA-MPJPE'):
            cols = {
                COLUMNS[name]: (run[f'{mode}_sum'][keep],
                                run[f'{mode}_count'][keep])
                for name, run in runs.items()
            }
            row = {col: bootstrap_mean(*sc) for col, sc in cols.items()}
            row['gain'] = bootstrap_gain(*cols['alone'], *cols['hdr'])
            row['ceiling_gain'] = bootstrap_gain(*cols['alone'],
                                                 *cols['ceiling'])
            row['share'] = share_of_gain(row['gain'], row['ceiling_gain'])
            out[f'{mode} {split}'] = row
    return out


def share_of_gain(gain: Dict[str, float],
                  ceiling_gain: Dict[str, float]) -> Optional[float]:
    """HDR's gain as a fraction of the ceiling's: the share of what a
    perfect TDR would give.

    Args:
        gain: HDR's ``bootstrap_gain`` over SHPE alone.
        ceiling_gain: The ceiling's.

    Returns:
        float or None: the ratio of the two gains; None when the ceiling
        gains nothing (or either is undefined).
    """
    g, c = gain['gain'], ceiling_gain['gain']
    if not (np.isfinite(g) and np.isfinite(c)) or c <= 0:
        return None
    return float(g / c)


def last_val_metrics(work_dir: str) -> Dict[str, float]:
    """The last validation metrics of a training run, from the
    ``<work_dir>/<timestamp>/vis_data/scalars.json`` that mmengine's
    ``LocalVisBackend`` writes (JSON lines; a validation line has no
    ``lr`` and no loss), over all runs in the folder (a resumed one
    too).

    Args:
        work_dir: The run's work dir.

    Returns:
        dict: the metric keys of the last validation line and its
        ``step`` (epoch or iteration); empty when none was logged.
    """
    last: Dict[str, float] = {}
    files = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    for path in files:
        with open(path) as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line cut by a kill
                if 'lr' in row or any('loss' in k for k in row):
                    continue
                found = {k: v for k, v in row.items()
                         if k not in NOT_METRICS}
                if found:
                    last = dict(found, step=row.get('step'))
    return last


def matching_metric(metrics: Dict[str, float],
                    pattern: str) -> Optional[float]:
    """A metric by a pattern of its whole key.

    Args:
        metrics: Metric key -> value.
        pattern: Regular expression the whole key must match.

    Returns:
        float or None: the value of the first match; None if none.
    """
    for key, value in metrics.items():
        if re.fullmatch(pattern, key):
            return value
    return None


def stage_numbers(metrics: Dict[str, Dict[str, float]],
                  shpe_work_dir: str) -> Dict[str, Dict]:
    """Each stage's own quality.

    Args:
        metrics: Evaluation name -> its metrics (:data:`EVALUATIONS`).
        shpe_work_dir: The SHPE's training work dir.

    Returns:
        dict: ``hasm``: ``mIoU`` (HASM's masks in the pipeline, test
        split); ``tdr``: per region of :data:`TDR_REGIONS`
        ``<region>_gain_db`` (PSNR with HDR minus SHPE alone, i.e. TDR
        against copying its input) and the raw
        ``<region>_psnr_{hdr,shpe_alone}``: ``deocc`` / ``removal`` in
        the holes HASM's masks give TDR, ``true_deocc`` / ``true_removal``
        in the ground truth's; ``shpe``: the last validation
        metrics of its training (:func:`last_val_metrics`), with ``pck``
        (a key ending with ``PCK`` or ``PCK@<threshold>``) and ``mpjpe``
        (a key ending with ``MPJPE`` or ``MPJPE_all``, not
        ``PA-``/``P-``/``N-MPJPE``) copied when present.
    """
    tdr: Dict[str, Optional[float]] = {}
    for region, _ in TDR_REGIONS:
        alone = metric(metrics['shpe_alone'], f'{region}/psnr')
        hdr = metric(metrics['hdr'], f'{region}/psnr')
        tdr[f'{region}_psnr_shpe_alone'] = alone
        tdr[f'{region}_psnr_hdr'] = hdr
        tdr[f'{region}_gain_db'] = (hdr - alone if None not in (alone, hdr)
                                    else None)
    shpe = last_val_metrics(shpe_work_dir)
    scores = {k: v for k, v in shpe.items() if k != 'step'}
    for name, pattern in (('pck', r'.*PCK(@[^/]*)?'),
                          ('mpjpe', r'(.*[^-])?MPJPE(_all)?')):
        value = matching_metric(scores, pattern)
        if value is not None:
            shpe[name] = value
    return dict(
        hasm=dict(mIoU=metric(metrics['hdr'], 'mask/mIoU')),
        tdr=tdr,
        shpe=shpe)


def _ci(d: Dict[str, float]) -> str:
    return f'{d["mean"]:.2f} [{d["low"]:.2f}, {d["high"]:.2f}]'


def _gain(d: Dict[str, float]) -> str:
    return (f'{100 * d["gain"]:+.1f}% [{100 * d["low"]:+.1f}, '
            f'{100 * d["high"]:+.1f}]')


def _share(share: Optional[float]) -> str:
    return 'n/a' if share is None else f'{100 * share:.0f}%'


def results_table(metrics: Dict[str, Dict[str, float]],
                  errors: Dict[str, Dict]) -> str:
    """The comparison as markdown, with the share of the possible gain on
    the interacting frames as a line below.

    Args:
        metrics: Evaluation name -> its metrics.
        errors: :func:`compare`.

    Returns:
        str: the table.
    """
    labels = [label for _, label in EVALUATIONS.values()]
    rows = [
        '| generated test split | ' + ' | '.join(labels) +
        ' | HDR gain | ceiling gain | share of possible gain |',
        '|---|' + '---:|' * (len(labels) + 3)
    ]
    for key, d in errors.items():
        rows.append(
            f'| {key} (mm, {d["alone"]["frames"]} frames) | ' +
            ' | '.join(_ci(d[c]) for c in COLUMNS.values()) +
            f' | {_gain(d["gain"])} | {_gain(d["ceiling_gain"])} | '
            f'{_share(d["share"])} |')
    for suffix, label in METRIC_ROWS:
        values = [metric(metrics[name], suffix) for name in EVALUATIONS]
        if values[0] is None:
            continue
        cells = ['' if v is None else f'{v:.3f}' for v in values]
        if suffix.endswith('psnr'):  # SHPE is fed the reference itself
            cells[list(EVALUATIONS).index('ceiling')] = 'exact'
        rows.append(f'| {label} | ' + ' | '.join(cells) + ' | | | |')
    row = errors.get('MPJPE interacting')
    if row is not None:
        rows.append(
            f'\nShare of the possible gain (MPJPE interacting): HDR gets '
            f'{_share(row["share"])} of what a perfect TDR would give '
            f'(HDR {_gain(row["gain"])}, ceiling '
            f'{_gain(row["ceiling_gain"])}).')
    return '\n'.join(rows)


def _num(value: Optional[float], digits: int = 3) -> str:
    return 'n/a' if value is None else f'{value:.{digits}f}'


def stages_table(stages: Dict[str, Dict]) -> str:
    """:func:`stage_numbers` as a short markdown table."""
    tdr = stages['tdr']
    holes = '; '.join(
        f'{name} {_num(tdr[f"{r}_psnr_hdr"], 2)} vs '
        f'{_num(tdr[f"{r}_psnr_shpe_alone"], 2)} dB without TDR '
        f'({_num(tdr[f"{r}_gain_db"], 2)} dB)'
        for r, name in TDR_REGIONS)
    shpe = stages['shpe']
    if shpe:
        shpe_text = f'last validation (step {shpe.get("step")}): ' + ', '.join(
            f'{k} {_num(v)}' for k, v in shpe.items()
            if k not in ('step', 'pck', 'mpjpe') and isinstance(
                v, (int, float)))
    else:
        shpe_text = 'no validation logged'
    rows = ['| stage | its own numbers |', '|---|---|',
            f'| HASM | mask mIoU {_num(stages["hasm"]["mIoU"])} '
            '(in the pipeline, test split) |',
            f'| TDR | PSNR {holes} |', f'| SHPE | {shpe_text} |']
    return '\n'.join(rows)


def timing_table(timing: Dict[str, Dict]) -> str:
    """The job's steps and their seconds as markdown; a training step
    also shows its iterations and the split of its loop
    (``StageTimingHook``)."""
    rows = ['| step | seconds | iterations | data loading (s) | '
            'train steps (s) | validation (s) |', '|---|---:|---:|---:|'
            '---:|---:|']
    for step, t in timing.items():
        name = step + (' (skipped; earlier run)' if t.get('skipped') else '')
        cells: List[str] = [
            _num(t.get(k), 1) if k in t else ''
            for k in ('seconds', 'iters', 'data_seconds', 'step_seconds',
                      'val_seconds')
        ]
        if 'iters' in t:
            cells[1] = str(t['iters'])
        rows.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)
