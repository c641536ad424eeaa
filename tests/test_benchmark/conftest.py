import pytest


@pytest.fixture(scope='session')
def bench_config() -> str:
    """The small HDR pipeline config the benchmark tests build."""
    return 'configs/hdr/hdr_tiny_synthetic-256x256.py'


@pytest.fixture(scope='session')
def bench_pipeline(bench_config):
    """``(model, cfg)``: the tiny HDR pipeline as the benchmark builds it
    (random weights, eval mode; not to be prepared in place)."""
    from hdr_mm.benchmark.pipeline import build_pipeline
    return build_pipeline(bench_config)
