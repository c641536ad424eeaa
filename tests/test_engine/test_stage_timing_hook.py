"""StageTimingHook: the split of a training run's wall time, with a fake
clock and runner, and in a tiny real Runner."""
import json
from types import SimpleNamespace

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import hdr_mm  # noqa: F401
from hdr_mm.engine.hooks import StageTimingHook
from mmpose.registry import HOOKS, MODELS


class FakeClock:

    def __init__(self) -> None:
        self.now = 0.

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


def test_split_with_a_fake_clock(tmp_path):
    clock = FakeClock()
    hook = StageTimingHook(clock=clock)
    runner = SimpleNamespace(iter=0, max_iters=3, work_dir=str(tmp_path))
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    for i in range(3):
        clock.tick(1.)  # loading
        hook.before_train_iter(runner, i)
        clock.tick(10.)  # train step
        hook.after_train_iter(runner, i)
        if i == 1:
            hook.before_val(runner)
            clock.tick(100.)
            hook.after_val(runner)
    clock.tick(0.5)  # e.g. a final checkpoint
    hook.after_train(runner)
    record = json.loads((tmp_path / 'timing.json').read_text())
    assert record == dict(seconds=133.5, data_seconds=3., step_seconds=30.,
                          val_seconds=100., other_seconds=0.5, iters=3,
                          start_iter=0, max_iters=3)
    assert not list(tmp_path.glob('.*part*'))  # written atomically


@MODELS.register_module(force=True)
class TimingToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return [dict(pred=o) for o in out]


class Points(Dataset):

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=torch.tensor([float(i), 1.0]))


def test_in_a_runner_with_validation(tmp_path):
    assert HOOKS.get('StageTimingHook') is StageTimingHook
    loader = dict(dataset=Points(), batch_size=2,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='pseudo_collate'))
    runner = Runner(
        model=dict(type='TimingToyModel'),
        work_dir=str(tmp_path),
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=dict(type='mmengine.DumpResults',
                           out_file_path=str(tmp_path / 'val.pkl')),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=5, val_interval=2),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=5, by_epoch=False)),
        custom_hooks=[dict(type='StageTimingHook')],
        default_scope='mmpose')
    runner.train()
    record = json.loads((tmp_path / 'timing.json').read_text())
    assert record['iters'] == 5 and record['max_iters'] == 5
    assert record['start_iter'] == 0
    assert record['val_seconds'] > 0 and record['step_seconds'] > 0
    assert record['data_seconds'] > 0
    parts = sum(record[k] for k in ('data_seconds', 'step_seconds',
                                    'val_seconds', 'other_seconds'))
    assert abs(parts - record['seconds']) < 1e-6
