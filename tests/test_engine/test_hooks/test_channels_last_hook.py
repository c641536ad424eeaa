"""ChannelsLastHook converts the (wrapped) model before training."""
from types import SimpleNamespace

import torch
import torch.nn as nn

from hdr_mm.engine.hooks import ChannelsLastHook


def test_converts_parameters_in_place():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    weight = net[0].weight
    optim = torch.optim.SGD(net.parameters(), lr=0.1)
    ChannelsLastHook().before_train(SimpleNamespace(model=net))
    assert net[0].weight is weight  # the optimiser keeps its parameters
    assert weight.is_contiguous(memory_format=torch.channels_last)
    out = net(torch.randn(2, 3, 8, 8))
    assert out.is_contiguous(memory_format=torch.channels_last)
    out.mean().backward()
    optim.step()
