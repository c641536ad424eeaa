"""The benchmark's report: efficiency figures, Markdown tables and the
text the command prints."""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .authors import AUTHORS_MODE, AUTHORS_NOTE
from .harness import best_throughput
from .modes import MODE_PEAK
from .pipeline import STAGE_INPUT

#: per mode and stage: ``ms``, ``img_per_s``, ``gflops``, ``of_peak``,
#: ``error``
Summary = Dict[str, Dict[str, Any]]


def efficiency(flops_per_image: Optional[float], ms_per_image: Optional[float],
               peak_gflops: Optional[float]
               ) -> Tuple[Optional[float], Optional[float]]:
    """GFLOP/s achieved and the fraction of the peak.

    Args:
        flops_per_image: Floating-point operations per image (2 x
            multiply-adds), None if unknown.
        ms_per_image: Time per image (ms), None if not measured.
        peak_gflops: The GEMM peak (GFLOP/s), None if not measured.

    Returns:
        tuple: (GFLOP/s or None, fraction of peak or None).
    """
    if not flops_per_image or not ms_per_image:
        return None, None
    gflops = flops_per_image / ms_per_image / 1e6
    return gflops, (gflops / peak_gflops if peak_gflops else None)


def fmt(value: Optional[float], digits: int = 1) -> str:
    """A number for the table.

    Args:
        value: The number, or None.
        digits: Digits after the point.

    Returns:
        str: ``value`` with ``digits`` decimals, ``'n/a'`` for None/NaN.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:.{digits}f}'


def markdown_table(headers: Sequence[str],
                   rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned.

    Args:
        headers: Column titles.
        rows: One sequence of cells per row, as many as ``headers``.

    Returns:
        str: The table, one line per row, without a trailing newline.

    Raises:
        ValueError: a row has another number of cells.
    """
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f'markdown_table: row {list(row)} has '
                             f'{len(row)} cells, expected {len(headers)}')
    cells = [[str(c) for c in row] for row in rows]

    def numeric(col: int) -> bool:
        vals = [r[col] for r in cells if r[col] not in ('', 'n/a', '-')]
        try:
            [float(v.split()[0].rstrip('%x')) for v in vals]
        except (ValueError, IndexError):
            return False
        return bool(vals)

    align = ['---:' if numeric(i) else '---' for i in range(len(headers))]
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '|'.join(align) + '|']
    lines += ['| ' + ' | '.join(r) + ' |' for r in cells]
    return '\n'.join(lines)


def _cell(text: str, stats: Dict[str, Any]) -> str:
    """``text``, with the mark of a composed result (the authors' hasm and
    hdr, :func:`~hdr_mm.benchmark.authors.compose_authors`)."""
    mark = stats.get('composed')
    return f'{text} ({mark})' if mark else text


def _speedups(modes: Sequence[str], summary: Summary, base: str) -> str:
    """The end-to-end speed-up of every other mode over ``base`` (empty
    without the numbers)."""
    ref = summary[base].get('hdr', {}).get('ms')
    speed = [f'{m} {ref / summary[m]["hdr"]["ms"]:.2f}x'
             for m in modes if m != base and ref and
             summary[m].get('hdr', {}).get('ms')]
    return (f'end-to-end speed-up over {base}: ' + ', '.join(speed)
            if speed else '')


def _notes(results: Dict[str, Dict[str, Dict[int, Dict]]],
           flops: Dict[str, Dict[str, Any]]) -> List[str]:
    """The lines under the tables: stages whose FLOPs were not (all)
    counted, then the calls that failed."""
    lines, notes = [], []
    for stage, entry in flops.items():
        if entry.get('error'):
            notes.append(f'{stage}: FLOPs not counted ('
                         f'{entry["error"].split(":")[0]})')
        elif entry.get('unsupported'):
            notes.append(f'{stage}: ops without a FLOP formula: ' + ', '.join(
                f'{k} x{v}' for k, v in sorted(entry['unsupported'].items())))
    if notes:
        lines += [''] + notes
    errors = [f'{m} {s} batch {b}: {r["error"]}' for m in results
              for s, per in results[m].items() for b, r in per.items()
              if 'error' in r]
    if errors:
        lines += ['', 'failed: ' + '; '.join(errors)]
    return lines


def report(results: Dict[str, Dict[str, Dict[int, Dict]]],
           flops: Dict[str, Dict[str, Any]], peaks: Dict[str, Dict],
           stages: Sequence[str],
           mode_peaks: Optional[Dict[str, Optional[str]]] = None
           ) -> Tuple[str, Summary]:
    """The latency table and the efficiency table.

    Args:
        results: :func:`~hdr_mm.benchmark.modes.bench_modes` output.
        flops: :func:`~hdr_mm.benchmark.flops.stage_flops` output (may be
            empty).
        peaks: ``'fp32'``/``'bf16'`` ->
            :func:`~hdr_mm.benchmark.machine.gemm_peak` output.
        stages: Stages in order.
        mode_peaks: Mode -> the peak it is compared with (``'fp32'`` or
            ``'bf16'``), e.g. what ``'auto'`` chose
            (:attr:`~hdr_mm.benchmark.modes.ModeSetup.peak`); default
            :data:`~hdr_mm.benchmark.modes.MODE_PEAK` (fp32 for the
            authors' networks).

    Returns:
        tuple: the Markdown text and, per mode and stage, the summary
        numbers (``ms``, ``img_per_s``, ``gflops``, ``of_peak``,
        ``error``). Composed results (the authors' hasm and hdr) are
        marked in the latency table, explained under it, and the
        end-to-end speed-ups are also given over the authors' column.
    """
    modes = list(results)
    mode_peaks = {**MODE_PEAK, AUTHORS_MODE: 'fp32', **(mode_peaks or {})}
    summary: Summary = {m: {} for m in modes}
    lat_rows, eff_rows = [], []
    for stage in stages:
        macs = (flops.get(stage) or {}).get('flops')
        fl = 2.0 * macs if macs else None
        lat, eff = [stage, STAGE_INPUT[stage],
                    fmt(fl / 1e9 if fl else None, 2)], [stage]
        for mode in modes:
            per_batch = results[mode].get(stage, {})
            one = per_batch.get(1, {})
            best = best_throughput(per_batch)
            ms = one.get('median_ms')
            peak = peaks.get(mode_peaks[mode], {}).get('gflops')
            gflops, frac = efficiency(fl, ms, peak)
            summary[mode][stage] = dict(
                ms=ms, img_per_s=best[1]['images_per_s'] if best else None,
                gflops=gflops, of_peak=frac, error=one.get('error'))
            lat += [_cell(fmt(ms), one) if 'error' not in one else 'failed',
                    _cell(fmt(best[1]['images_per_s'], 2), best[1])
                    if best else 'n/a']
            eff += [fmt(gflops), fmt(100 * frac, 1) + '%' if frac is not
                    None else 'n/a']
        lat_rows.append(lat)
        eff_rows.append(eff)
    lines = [markdown_table(
        ['stage', 'input per image', 'GFLOP / image'] +
        [h for m in modes for h in (f'{m} ms', f'{m} img/s')], lat_rows)]
    speedups = [_speedups(modes, summary, base)
                for base in ('eager', AUTHORS_MODE) if base in modes]
    if any(speedups):
        lines.append('\n' + '\n'.join(s for s in speedups if s))
    if AUTHORS_MODE in modes:
        lines += ['', AUTHORS_NOTE]
    lines += ['', markdown_table(
        ['stage'] + [h for m in modes for h in
                     (f'{m} GFLOP/s', f'{m} of {mode_peaks[m]} peak')],
        eff_rows)]
    return '\n'.join(lines + _notes(results, flops)), summary


def report_text(config: str, batch_sizes: Sequence[int], warmup: int,
                num_iters: int, machine: Dict[str, Any],
                peaks: Dict[str, Dict], tables: str,
                runtimes: Optional[Dict[str, str]] = None) -> str:
    """The whole printed report: title, what was run, the machine line,
    the GEMM peaks, what each mode runs, the tables and the note on the
    FLOP counts.

    Args:
        config: The HDR config.
        batch_sizes: Two-hand images per batch.
        warmup: Untimed calls per stage, mode and batch size.
        num_iters: Timed calls.
        machine: :func:`~hdr_mm.benchmark.machine.machine_line` output.
        peaks: ``'fp32'``/``'bf16'`` ->
            :func:`~hdr_mm.benchmark.machine.gemm_peak` output.
        tables: The text of :func:`report`.
        runtimes: Mode -> what its pipeline runs and, for ``'auto'``,
            why (:meth:`~hdr_mm.models.hdr.runtime.StageRuntime.
            describe`); None or empty: no such lines.

    Returns:
        str: the report, without a trailing newline.
    """
    modes = [f'- {m}: {text}' for m, text in (runtimes or {}).items()]
    return '\n'.join([
        '# HDR benchmark\n',
        f'config: {config}; random weights; batch sizes '
        f'{",".join(map(str, batch_sizes))}; {warmup} warm-up '
        f'+ {num_iters} timed iterations, modes interleaved; latency = '
        'median at batch 1, per two-hand image',
        'machine: ' + ', '.join(f'{k} {v}' for k, v in machine.items()),
        'GEMM peak: ' + ', '.join(
            f'{k} {v["gflops"]:.1f} GFLOP/s ({v["kernel"]}, n={v["size"]})'
            for k, v in peaks.items()) + '\n',
    ] + (['modes:'] + modes + [''] if modes else []) + [
        tables,
        '\nGFLOP: 2 x multiply-adds of the network (mmengine FlopAnalyzer; '
        'element-wise ops not counted); hdr adds the glue (crops, '
        'pre-processing, read-out) to the time but not to the count.',
    ])
