"""hdr_mm.benchmark.harness: interleaved timing and its statistics.
Nothing here asserts a timing."""
import pytest
import torch

from hdr_mm.benchmark.harness import (best_throughput, summarize,
                                      time_interleaved)


def test_summarize():
    # 10, 20, 30, 40 ms for a batch of 2: median 25 ms; the 90th
    # percentile interpolates 0.7 of the way from 30 to 40 ms
    s = summarize([0.040, 0.010, 0.030, 0.020], batch_size=2)
    assert s['median_ms'] == pytest.approx(25.0)
    assert s['p90_ms'] == pytest.approx(37.0)
    assert s['ms_per_image'] == pytest.approx(12.5)
    assert s['images_per_s'] == pytest.approx(80.0)
    assert s['iters'] == 4
    with pytest.raises(ValueError, match='no timed'):
        summarize([], 1)


def test_best_throughput_skips_failed_batches():
    per_batch = {
        1: summarize([0.010], 1),  # 100 img/s
        2: summarize([0.010], 2),  # 200 img/s
        4: dict(error='out of memory'),
    }
    batch, stats = best_throughput(per_batch)
    assert batch == 2 and stats['images_per_s'] == pytest.approx(200.0)
    assert best_throughput({1: dict(error='x')}) is None


def test_time_interleaved_round_robin_and_failures():
    calls = []

    def fails_in_warmup():
        raise RuntimeError('no kernel\nsecond line')

    def fails_on_second_call():
        calls.append('c')
        if calls.count('c') == 2:
            raise ValueError('broke')

    fns = dict(a=lambda: calls.append('a'), b=lambda: calls.append('b'),
               bad=fails_in_warmup, c=fails_on_second_call)
    out = time_interleaved(fns, torch.device('cpu'), warmup=1, iters=3)
    # warm-up per callable, then the timed calls take turns; the failed
    # ones are not called again
    assert calls == ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'a', 'b']
    assert len(out['a']) == len(out['b']) == 3
    assert all(t >= 0 for t in out['a'])
    assert out['bad'] == 'RuntimeError: no kernel'
    assert out['c'] == 'ValueError: broke'
