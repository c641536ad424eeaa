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
def tiny_pipeline(synthetic_root, repo_root):
    """``f(config) -> (cfg, model, batch)``: an HDR pipeline config on the
    session's generated test frames with a 96 px two-hand crop, its model
    (seed 0, eval mode, random weights, eager: the networks as built,
    whatever the config's ``precision``/``backend``; the runtimes are
    tested in tests/test_models/test_hdr/test_runtime.py) and one batch of
    all test frames."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS

    def build(config: str):
        cfg = Config.fromfile(osp.join(repo_root, config))
        ds = cfg.test_dataloader.dataset
        ds.data_root = str(synthetic_root / 'interhand2.6m')
        cfg.test_pipeline[2].out_size = 96  # CropBothHands: tiny
        ds.pipeline = cfg.test_pipeline
        init_default_scope('mmpose')
        torch.manual_seed(0)
        model = MODELS.build(
            dict(cfg.model, precision=None, backend='pytorch')).eval()
        dataset = DATASETS.build(ds)
        batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
        return cfg, model, batch

    return build


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
    combine_stage_checkpoints(stages, combined,
                              osp.join(repo_root, HDR_TINY_CONFIG))
    return combined


@pytest.fixture(scope='session')
def hdr_hands_checkpoint(hdr_pipeline_checkpoint, tmp_path_factory) -> str:
    """``hdr_pipeline_checkpoint`` with a HASM that takes every pixel for a
    hand: both hands are found, so every stage runs on them (for
    comparing the pipeline's runtimes end to end)."""
    import torch

    from hdr_mm.utils import save_mmengine_checkpoint
    from hdr_mm.utils.checkpoint_loading import load_local_checkpoint
    state = load_local_checkpoint(hdr_pipeline_checkpoint,
                                  map_location='cpu')['state_dict']
    for key in [k for k in state if k.startswith(
            'hasm.decode_head.conv_segs.')]:
        state[key] = (torch.tensor([-1., 1.]) if key.endswith('.bias') else
                      torch.zeros_like(state[key]))
    path = str(tmp_path_factory.mktemp('hdr_hands') / 'hdr.pth')
    save_mmengine_checkpoint(state, path)
    return path


# ---------------------------------------------------------------------------
# A checkpoint written by the Runner, as every training writes them.
class _Points:
    """Eight 2-vectors, with an mmpose dataset meta (numpy arrays)."""

    def __init__(self):
        from mmpose.datasets import InterHand3DDataset
        from mmpose.datasets.datasets.utils import parse_pose_metainfo
        self.metainfo = parse_pose_metainfo(InterHand3DDataset.METAINFO)

    def __len__(self):
        return 8

    def __getitem__(self, i):
        import torch
        return dict(inputs=torch.tensor([float(i), 1.0]))


def _tiny_runner_cfg(work_dir: str, max_iters: int = 2, **overrides) -> dict:
    """Arguments of a Runner that trains a linear model in a second, with
    Adam, two schedulers, logging and a checkpoint every iteration."""
    import torch
    from mmengine.model import BaseModel

    class Linear(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return dict(loss=self.fc(torch.stack(inputs)).pow(2).mean())

    torch.manual_seed(0)
    cfg = dict(
        model=Linear(),
        work_dir=work_dir,
        train_dataloader=dict(dataset=_Points(), batch_size=2,
                              sampler=dict(type='DefaultSampler',
                                           shuffle=False),
                              collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.01)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.5, by_epoch=False,
                 begin=0, end=1),
            dict(type='MultiStepLR', milestones=[1], by_epoch=False)
        ],
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1, by_epoch=False)),
        default_scope='mmpose')
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope='session')
def runner_checkpoint(tmp_path_factory) -> str:
    """``iter_2.pth`` of :func:`_tiny_runner_cfg` trained by hdr_mm's
    Runner (``HDRRunner``)."""
    from hdr_mm.engine.runner import HDRRunner
    work_dir = tmp_path_factory.mktemp('runner_checkpoint')
    HDRRunner(**_tiny_runner_cfg(str(work_dir))).train()
    return str(work_dir / 'iter_2.pth')


@pytest.fixture(scope='session')
def tiny_runner_cfg():
    """``f(work_dir, max_iters=2, **overrides)``: the arguments of a Runner
    that trains a linear model in a second (Adam, two schedulers, a
    checkpoint every iteration, an mmpose dataset meta)."""
    return _tiny_runner_cfg


class _Payload:
    """Unpickling it creates a folder: stands for any code a crafted
    checkpoint runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker, ))


def _crafted_checkpoint(path, marker) -> str:
    import torch
    torch.save(dict(meta=dict(note=_Payload(marker)),
                    state_dict=dict(weight=torch.ones(2))), str(path))
    return str(path)


@pytest.fixture(scope='session')
def crafted_checkpoint():
    """``f(path, marker) -> path``: writes an mmengine-looking checkpoint
    whose unpickling creates the folder ``marker`` (a stand-in for any
    code, e.g. ``os.system``)."""
    return _crafted_checkpoint


# ---------------------------------------------------------------------------
# A folder nothing can be written into, even by root.
def _can_write(folder) -> bool:
    import tempfile
    try:
        fd, probe = tempfile.mkstemp(dir=str(folder))
    except OSError:
        return False
    os.close(fd)
    os.remove(probe)
    return True


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder holding ``hasm.onnx`` (bytes ``b'old'``) into which no
    file can be written: mode 0o555, and for root (who ignores the mode)
    the immutable attribute (``chattr +i``); skipped where neither
    works."""
    import shutil
    import subprocess
    folder = tmp_path / 'locked'
    folder.mkdir()
    (folder / 'hasm.onnx').write_bytes(b'old')
    os.chmod(folder, 0o555)
    immutable = False
    if _can_write(folder):
        immutable = shutil.which('chattr') is not None and subprocess.run(
            ['chattr', '+i', str(folder)], capture_output=True).returncode == 0
        if not immutable or _can_write(folder):
            os.chmod(folder, 0o755)
            pytest.skip('cannot make a folder unwritable here')
    yield folder
    if immutable:
        subprocess.run(['chattr', '-i', str(folder)], check=True)
    os.chmod(folder, 0o755)


@pytest.fixture
def zen4_facts() -> dict:
    """An AMD Zen 4's :class:`~hdr_mm.deploy.auto.MachineFacts` fields
    (AVX512-BF16 and VNNI, no AMX), both graph engines installed."""
    return dict(flags=frozenset({'avx512_bf16', 'avx512_vnni', 'avx2'}),
                capability='AVX512', onednn_bf16='avx512_bf16',
                backends=frozenset({'onnxruntime', 'openvino'}))


@pytest.fixture
def pretend_cpu(monkeypatch):
    """Make ``precision``/``backend`` 'auto' decide as on another CPU.

    Returns:
        Callable: ``pretend(**facts)`` with
        :class:`~hdr_mm.deploy.auto.MachineFacts` fields (e.g.
        ``**zen4_facts``); the pipeline's own ``device_type`` and
        ``int8_graphs`` are kept.
    """
    from hdr_mm.deploy import auto

    def pretend(**facts):
        monkeypatch.setattr(
            auto, 'machine_facts', lambda device_type, int8_graphs:
            auto.MachineFacts(**facts, device_type=device_type,
                              int8_graphs=int8_graphs))

    return pretend
