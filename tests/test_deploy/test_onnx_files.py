"""A user's .onnx file: refused with its name when it is not a complete
stage graph, by onnxruntime and OpenVINO alike; exports are atomic; the
runtime's export folder overwrites only what it wrote."""
import importlib.util
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from hdr_mm.deploy import (
    OnnxExportCache,
    OnnxFileError,  # noqa: E402
    export_stage,
    load_ort_stage,
    load_ov_stage)
from hdr_mm.deploy.onnx_cache import MANIFEST  # noqa: E402
from hdr_mm.utils import UnwritableFolderError  # noqa: E402


#: engine -> (its loader, its own words for a file it cannot parse)
LOADERS = dict(onnxruntime=(load_ort_stage, 'Protobuf parsing failed'),
               openvino=(load_ov_stage, "Model can't be parsed"))
ENGINES = [
    'onnxruntime',
    pytest.param('openvino', marks=pytest.mark.skipif(
        importlib.util.find_spec('openvino') is None,
        reason='openvino is not installed')),
]


class _Generator(nn.Module):
    """A stand-in TDR generator: ``(x, mask) -> (out, out_mask)``."""

    in_channels = 2

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)

    def forward(self, x, mask):
        return self.conv(x * mask), self.conv(mask).sign()


@pytest.fixture(scope='module')
def graph(tmp_path_factory):
    """A complete TDR-stage graph (bytes)."""
    path = str(tmp_path_factory.mktemp('onnx') / 'tdr.onnx')
    export_stage('tdr', _Generator().eval(), path, 8)
    with open(path, 'rb') as f:
        return f.read()


def _write(folder, name, data):
    path = str(folder / name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


@pytest.mark.parametrize('engine', ENGINES)
def test_a_complete_graph_loads(tmp_path, graph, engine):
    load, _ = LOADERS[engine]
    runner = load(_write(tmp_path, 'tdr.onnx', graph))
    assert runner.backend == engine
    out, out_mask = runner(torch.ones(1, 2, 8, 8), torch.ones(1, 2, 8, 8))
    assert out.shape == out_mask.shape == (1, 3, 8, 8)


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('kind', ['truncated', 'random', 'empty'])
def test_a_broken_file_is_refused_with_its_name(tmp_path, graph, kind,
                                                engine):
    load, parse_failed = LOADERS[engine]
    data = dict(truncated=graph[:len(graph) // 2],
                random=os.urandom(300) + b'\xff' * 8,
                empty=b'')[kind]
    path = _write(tmp_path, 'tdr.onnx', data)
    with pytest.raises(OnnxFileError) as e:
        load(path)
    msg = str(e.value)
    assert msg.startswith(f'cannot load ONNX file {path}: ')
    assert msg.endswith('export it again (tools/deployment/pytorch2onnx.py '
                        'or hdr_mm.deploy.export_stage)')
    if kind != 'empty':
        assert f'says "{parse_failed}' in msg, msg
    with pytest.raises(FileNotFoundError, match='ONNX file not found: .*x'):
        load(str(tmp_path / 'x.onnx'))


@pytest.mark.parametrize('engine', ENGINES)
def test_a_graph_of_something_else_is_refused(tmp_path, graph, engine):
    load, _ = LOADERS[engine]
    proto = onnx.load_from_string(graph)
    del proto.metadata_props[:]
    path = str(tmp_path / 'plain.onnx')
    onnx.save(proto, path)
    with pytest.raises(OnnxFileError,
                       match='plain.onnx is not the graph of an hdr_mm '
                       'stage: its metadata has no hdr_mm_stage'):
        load(path)
    proto = onnx.load_from_string(graph)
    next(p for p in proto.metadata_props
         if p.key == 'hdr_mm_stage').value = 'shpe'
    onnx.save(proto, path)
    with pytest.raises(OnnxFileError,
                       match=r"plain.onnx is not the shpe graph that hdr_mm "
                       r"exports: inputs \['x', 'mask'\] and outputs "
                       r"\['out', 'out_mask'\], expected \['inputs'\]"):
        load(path)


def test_export_is_atomic(tmp_path, graph, monkeypatch):
    path = _write(tmp_path, 'tdr.onnx', b'previous export')

    def dies(model, args, f, **kwargs):
        with open(f, 'wb') as out:
            out.write(b'half a graph')
        raise RuntimeError('export failed')

    monkeypatch.setattr(torch.onnx, 'export', dies)
    with pytest.raises(RuntimeError, match='export failed'):
        export_stage('tdr', _Generator().eval(), path, 8)
    assert open(path, 'rb').read() == b'previous export'
    assert os.listdir(tmp_path) == ['tdr.onnx']


def test_export_into_an_unwritable_folder(unwritable_folder):
    path = str(unwritable_folder / 'hasm.onnx')
    with pytest.raises(UnwritableFolderError,
                       match=f'cannot write {path}: output folder '
                       f'{unwritable_folder}: it is not writable'):
        export_stage('tdr', _Generator().eval(), path, 8)
    assert open(path, 'rb').read() == b'old'


def test_cache_overwrites_only_its_own_unchanged_files(tmp_path, graph):
    folder = tmp_path / 'cache'
    cache = OnnxExportCache(str(folder))
    path = cache.claim('tdr.onnx')
    _write(folder, 'tdr.onnx', graph)
    cache.record(path)
    assert OnnxExportCache(str(folder)).claim('tdr.onnx') == path  # its own
    # changed since (truncated): refused, kept
    _write(folder, 'tdr.onnx', graph[:100])
    with pytest.raises(FileExistsError) as e:
        cache.claim('tdr.onnx')
    assert str(e.value).startswith(
        f'{path} changed since the onnxruntime backend wrote it (its '
        f'SHA-256 differs from the record in {folder / MANIFEST})')
    assert open(path, 'rb').read() == graph[:100]
    # a file of the user's: refused, kept
    mine = _write(folder, 'shpe.onnx', graph)
    with pytest.raises(FileExistsError,
                       match=f'{mine} exists and was not written by the '
                       'onnxruntime backend'):
        cache.claim('shpe.onnx')
    assert sorted(os.listdir(folder)) == [MANIFEST, 'shpe.onnx', 'tdr.onnx']
    assert not osp.exists(folder / 'hasm.onnx')
    assert cache.claim('hasm.onnx') == str(folder / 'hasm.onnx')


def _openvino_ir(graph, folder):
    """The graph as an OpenVINO IR (``.xml`` and ``.bin``); a hand-written
    IR header where openvino is not installed."""
    xml = folder / 'tdr.xml'
    if importlib.util.find_spec('openvino') is None:
        xml.write_text('<?xml version="1.0"?>\n<net name="tdr" '
                       'version="11">\n</net>\n')
        return xml
    import openvino as ov
    onnx_file = _write(folder, 'src.onnx', graph)
    ov.save_model(ov.convert_model(onnx_file), str(xml))
    return xml


@pytest.mark.parametrize('engine', ENGINES)
def test_an_openvino_ir_or_a_folder_is_refused_by_name(tmp_path, graph,
                                                       engine):
    load, _ = LOADERS[engine]
    xml = _openvino_ir(graph, tmp_path)
    data = xml.read_bytes()
    for path in (xml, tmp_path / 'ir.onnx'):
        path.write_bytes(data)
        with pytest.raises(OnnxFileError) as e:
            load(str(path))
        assert str(e.value).startswith(
            f'cannot load ONNX file {path}: it is an OpenVINO IR (.xml), not '
            'an ONNX model')
        assert path.read_bytes() == data
    with pytest.raises(IsADirectoryError,
                       match=f'^ONNX file {tmp_path} is a folder'):
        load(str(tmp_path))


def test_cache_with_an_unreadable_record_overwrites_nothing(tmp_path, graph):
    """A record that cannot be read counts as empty: every file already in
    the folder is then refused, and kept byte for byte."""
    folder = tmp_path / 'cache'
    cache = OnnxExportCache(str(folder))
    path = cache.claim('tdr.onnx')
    _write(folder, 'tdr.onnx', graph[:-7])  # broken since the export
    cache.record(path)
    (folder / MANIFEST).write_text('{not json')
    with pytest.raises(FileExistsError,
                       match=f'^{path} exists and was not written by the '
                       'onnxruntime backend'):
        OnnxExportCache(str(folder)).claim('tdr.onnx')
    assert open(path, 'rb').read() == graph[:-7]
