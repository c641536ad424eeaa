"""Where the pipeline reads a stage's input size."""
import pytest
from mmengine.config import Config

from hdr_mm.models.hdr import stage_input_size


def test_sources_in_order():
    assert stage_input_size(Config(dict(input_size=(96, 96))), 'shpe') == 96
    assert stage_input_size(Config(dict(crop_size=64)), 'hasm') == 64
    # mmpose's stock top-down configs state it only in their codec
    stock = Config(dict(codec=dict(type='SimCCLabel', input_size=(256, 256))))
    assert stage_input_size(stock, 'shpe') == 256
    both = Config(dict(input_size=(128, 128),
                       codec=dict(type='SimCCLabel', input_size=[128, 128])))
    assert stage_input_size(both, 'shpe') == 128


def test_bad_sizes_are_named():
    with pytest.raises(KeyError, match='codec.input_size'):
        stage_input_size(Config(dict(codec=dict(type='X'))), 'shpe')
    with pytest.raises(ValueError, match='square'):
        stage_input_size(
            Config(dict(codec=dict(input_size=(192, 256)))), 'shpe')
    # input_size changed alone: the model would decode at 128 while the
    # pipeline maps its joints back at 96
    with pytest.raises(ValueError, match=r'input_size=\(96, 96\) but '
                       r'codec.input_size=\(128, 128\)'):
        stage_input_size(
            Config(dict(input_size=(96, 96),
                        codec=dict(input_size=(128, 128)))), 'shpe')
