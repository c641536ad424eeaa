import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import hdr_mm  # noqa: F401
from hdr_mm.engine.hooks import NonFiniteLossError
from mmpose.registry import MODELS


@MODELS.register_module(force=True)
class NaNAtIter(BaseModel):
    """A linear model whose loss turns NaN from iteration ``bad_iter``
    (1-based) on."""

    def __init__(self, bad_iter=3):
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.bad_iter = bad_iter
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.calls += 1
        loss = self.fc(torch.stack(inputs)).pow(2).mean()
        if self.calls >= self.bad_iter:
            loss = loss * float('nan')
        return dict(loss_l2=loss)


class Points(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.0]))


def test_stops_before_saving_and_names_last_good_checkpoint(tmp_path):
    runner = Runner(
        model=dict(type='NaNAtIter', bad_iter=3),
        work_dir=str(tmp_path),
        train_dataloader=dict(dataset=Points(), batch_size=2,
                              sampler=dict(type='DefaultSampler',
                                           shuffle=False),
                              collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=4),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=False)),
        custom_hooks=[dict(type='NaNLossGuardHook')],
        default_scope='mmpose')
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 3' in msg and 'loss_l2' in msg
    assert msg.rstrip('.').endswith('iter_2.pth')
    assert osp.isfile(tmp_path / 'iter_2.pth')
    assert not osp.exists(tmp_path / 'iter_3.pth')


def test_ignores_finite_and_non_loss_values():
    from hdr_mm.engine.hooks import NaNLossGuardHook

    class R:
        iter = 0
        work_dir = '/nonexistent'

    hook = NaNLossGuardHook()
    hook.after_train_iter(
        R(), 0, outputs=dict(loss=torch.tensor(1.), grad_norm=float('nan')))
    with pytest.raises(NonFiniteLossError, match='none saved yet'):
        hook.after_train_iter(R(), 0, outputs=dict(loss=float('inf')))
