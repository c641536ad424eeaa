import os
import os.path as osp

import pytest

# Tests run on 2-core machines next to other work: keep torch on one thread.
os.environ.setdefault('OMP_NUM_THREADS', '1')

TEST_DATA = osp.join(osp.dirname(osp.abspath(__file__)), 'data')
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def test_data_dir() -> str:
    """Folder of the fixtures shipped with the tests."""
    return TEST_DATA


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


# ---------------------------------------------------------------------------
# Small generated datasets shared by the dataset, model and tool tests
# (built once per session, ~10 frames at 96 px).
from hdr_mm.datasets.synthetic import (generate_synthetic_hands,  # noqa: E402
                                       write_aih_syn)

GEN_ARGS = dict(num_samples=10, img_size=96, seed=3,
                occlusion_range=(0.2, 0.6), single_hand_ratio=0.2,
                split_ratios=(0.6, 0.2, 0.2))


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """A generated dataset (read-only for tests: copy before breaking)."""
    root = tmp_path_factory.mktemp('synthetic') / 'hands'
    generate_synthetic_hands(str(root), progress=False, **GEN_ARGS)
    write_aih_syn(str(root), 'train', num_pairs=6, seed=1)
    return root


@pytest.fixture(scope='session')
def synthetic_args():
    """The generation arguments of ``synthetic_root``."""
    return dict(GEN_ARGS)


#: the HDR pipeline config whose stages the pipeline fixtures build
HDR_TINY_CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


@pytest.fixture(scope='session')
def hdr_pipeline_checkpoint(tmp_path_factory, repo_root) -> str:
    """A combined HDR checkpoint of freshly initialised tiny stages.

    Each stage model is built from its own config (as its training would
    start), its state dict saved as an mmengine checkpoint, and the three
    combined with ``combine_stage_checkpoints``: the same path the
    trained checkpoints take.
    """
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from hdr_mm.models.hdr.stage_builder import (build_stage,
                                                 combine_stage_checkpoints)
    from hdr_mm.utils import save_mmengine_checkpoint
    init_default_scope('mmpose')
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp('hdr_checkpoint')
    cfg = Config.fromfile(osp.join(repo_root, HDR_TINY_CONFIG))
    stages = {}
    for name in ('hasm', 'tdr', 'shpe'):
        model = build_stage(name, osp.join(repo_root,
                                           cfg.model[name].config))
        stages[name] = str(out / f'{name}.pth')
        save_mmengine_checkpoint(model.state_dict(), stages[name])
    combined = str(out / 'hdr.pth')
    combine_stage_checkpoints(stages, combined)
    return combined
