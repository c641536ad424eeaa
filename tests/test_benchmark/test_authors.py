"""hdr_mm.benchmark.authors: the authors' networks loaded from a fake
clone of their repository (same module paths, tiny networks, package
``__init__`` files that raise), their column timed with eager's on the
tiny pipeline, the composed hasm/hdr and the refusals. Nothing here
asserts a timing, and no code of the authors' is used."""
import sys
import textwrap
import types

import pytest
import torch

from hdr_mm.benchmark import authors
from hdr_mm.benchmark.authors import (AUTHORS_MODE, AUTHORS_NETWORKS,
                                      AUTHORS_NOTE, authors_setup,
                                      check_authors_repo, check_paper_size,
                                      compose_authors, load_authors_networks)
from hdr_mm.benchmark.cli import main, parse_args
from hdr_mm.benchmark.harness import summarize
from hdr_mm.benchmark.modes import setup_modes, time_modes
from hdr_mm.benchmark.report import report

_RAISE = 'raise RuntimeError("their __init__ must not run: {}")\n'
_PCONV = '''
import torch.nn as nn
import utils  # their top-level imports: the empty namespaces
from models.DR_Net.backbone.helper import WIDTH


class PConvUNet(nn.Module):
    def __init__(self, layer_size=7, input_channels=3):
        super().__init__()
        self.layer_size = layer_size
        self.enc_1 = nn.Conv2d(input_channels, WIDTH, 3, padding=1)
        self.dec_1 = nn.Conv2d(WIDTH, 3, 1)

    def forward(self, input, input_mask):
        h = self.dec_1(self.enc_1(input * input_mask))
        return h, input_mask[:, :3]

    def train(self, mode=True):  # as theirs: returns None
        super().train(mode)
'''
_DETNET = '''
import torch.nn as nn
import models
import utils


class DetNet(nn.Module):
    def __init__(self, stacks=1):
        super().__init__()
        self.stacks = stacks
        self.hmap_0 = nn.Conv2d(3, 21, 3, stride=4, padding=1)

    def forward(self, x):
        return dict(h_map=self.hmap_0(x).sigmoid())
'''


@pytest.fixture(autouse=True)
def no_package_needed(monkeypatch):
    """The fake clone needs neither timm nor einops (CI has neither):
    the check of the packages is tested on its own."""
    monkeypatch.setattr(authors, 'AUTHORS_PACKAGES', ())


@pytest.fixture
def fake_repo(tmp_path):
    """A fake clone: their module paths with tiny networks; every
    package ``__init__.py`` raises."""
    repo = tmp_path / 'HDR'
    for pkg in ('models', 'models/DR_Net', 'models/DR_Net/backbone',
                'models/HPE_Net', 'utils'):
        (repo / pkg).mkdir(parents=True)
        (repo / pkg / '__init__.py').write_text(_RAISE.format(pkg))
    backbone = repo / 'models/DR_Net/backbone'
    (backbone / 'helper.py').write_text('WIDTH = 4\n')
    (backbone / 'pconv_unet.py').write_text(textwrap.dedent(_PCONV))
    (repo / 'models/HPE_Net/module.py').write_text(textwrap.dedent(_DETNET))
    return repo


def test_loads_without_their_init_files(fake_repo, monkeypatch):
    """Their __init__ files are not run, their two classes are built as
    the demo builds them (eval mode) and run; sys.modules is as before,
    an unrelated 'models' module included."""
    mine = types.ModuleType('models')
    monkeypatch.setitem(sys.modules, 'models', mine)
    before = dict(sys.modules)
    nets = load_authors_networks(str(fake_repo))
    assert sys.modules['models'] is mine
    assert not [k for k in set(sys.modules) - set(before)
                if k.split('.')[0] in ('models', 'utils')]
    assert nets['tdr'].layer_size == AUTHORS_NETWORKS['tdr'][2][
        'layer_size'] == 8
    assert nets['tdr'].enc_1.in_channels == 8 and nets['shpe'].stacks == 1
    assert not nets['tdr'].training and not nets['shpe'].training
    out, _ = nets['tdr'](torch.ones(2, 8, 16, 16), torch.ones(2, 8, 16, 16))
    assert out.shape == (2, 3, 16, 16)
    assert nets['shpe'](torch.ones(2, 3, 16, 16))['h_map'].shape == (
        2, 21, 4, 4)
    # seeded weights, the global RNG left alone
    state = torch.random.get_rng_state()
    again = load_authors_networks(str(fake_repo))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(again['tdr'].enc_1.weight, nets['tdr'].enc_1.weight)


def test_clear_errors(tmp_path, fake_repo, monkeypatch):
    with pytest.raises(FileNotFoundError,
                       match=r'nope: no such folder; expected a clone of '
                       r'https://github.com/MengHao666/HDR'):
        check_authors_repo(str(tmp_path / 'nope'))
    (tmp_path / 'other' / 'models').mkdir(parents=True)
    with pytest.raises(FileNotFoundError,
                       match=r"not the authors' repository .*"
                       r'models/DR_Net/backbone/pconv_unet.py, '
                       r'models/HPE_Net/module.py missing'):
        load_authors_networks(str(tmp_path / 'other'))
    monkeypatch.setattr(authors, 'AUTHORS_PACKAGES', ('os', 'einops'))
    monkeypatch.setitem(sys.modules, 'einops', None)  # not importable
    with pytest.raises(ImportError, match=r'need einops \(pip install'):
        check_authors_repo(str(fake_repo))
    monkeypatch.setattr(authors, 'AUTHORS_PACKAGES', ())
    (fake_repo / 'models/DR_Net/backbone/helper.py').unlink()
    with pytest.raises(ImportError,
                       match=r'importing PConvUNet from models/DR_Net/'
                       r'backbone/pconv_unet.py failed \(Module'):
        load_authors_networks(str(fake_repo))
    assert not [k for k in sys.modules if k.split('.')[0] == 'models' and
                str(fake_repo) in str(getattr(sys.modules[k], '__path__',
                                              ''))]


def test_command_line_refusals(tmp_path, fake_repo, bench_config, capsys):
    """A missing repository or eager left out: refused before anything is
    built; a config that is not paper size: refused once loaded."""
    with pytest.raises(SystemExit):
        parse_args(['--authors-repo', str(tmp_path / 'nope')])
    assert 'nope: no such folder' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(['--authors-repo', str(fake_repo), '--modes', 'fp32'])
    assert '--modes must include eager' in capsys.readouterr().err
    assert parse_args(['--authors-repo', str(fake_repo)]).authors_repo == \
        str(fake_repo)
    with pytest.raises(SystemExit, match=r"must be paper size too .*"
                       r'TDR generator: 64x64 crops, theirs 256x256; TDR '
                       r"generator: their tensors do not map onto hdr_mm's"):
        main(['--config', bench_config, '--authors-repo', str(fake_repo),
              '--no-flops'])


def test_check_paper_size_names_the_differences(bench_pipeline, fake_repo):
    model, _ = bench_pipeline
    with pytest.raises(ValueError) as e:
        check_paper_size(model, load_authors_networks(str(fake_repo)))
    msg = str(e.value)
    assert 'SHPE DetNet: 96x96 crops, theirs 256x256' in msg
    assert 'configs/hdr/hdr_paper_interhand2.6m-256x256.py' in msg


def test_authors_column_timed_with_eager(bench_config, fake_repo, capsys):
    """tdr and shpe of theirs run on eager's very input tensors,
    interleaved; hasm and hdr are composed from eager and marked; the
    report explains them and gives the speed-ups over authors."""
    setups, cfg = setup_modes(bench_config, None, ['eager'],
                              torch.device('cpu'), 1)
    nets = load_authors_networks(str(fake_repo))
    seen = []
    nets['shpe'].register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    setups[AUTHORS_MODE] = authors_setup(nets, str(fake_repo))
    assert "PConvUNet(input_channels=8, layer_size=8)" in \
        setups[AUTHORS_MODE].describe()
    assert setups[AUTHORS_MODE].peak == 'fp32'
    res = compose_authors(time_modes(
        setups, cfg, torch.device('cpu'), ['hasm', 'tdr', 'shpe', 'hdr'],
        [1], 0, 1))
    assert '[authors] shpe  batch 1:' in capsys.readouterr().err
    assert seen[0].shape[0] == 2  # 2 hand crops per two-hand image
    eager, theirs = res['eager'], res[AUTHORS_MODE]
    for stage in ('tdr', 'shpe'):
        assert theirs[stage][1]['iters'] == 1
    assert theirs['hasm'][1]['median_ms'] == eager['hasm'][1]['median_ms']
    assert theirs['hasm'][1]['composed'] == '= eager'
    assert theirs['hdr'][1]['median_ms'] == pytest.approx(
        eager['hdr'][1]['median_ms'] - eager['tdr'][1]['median_ms'] -
        eager['shpe'][1]['median_ms'] + theirs['tdr'][1]['median_ms'] +
        theirs['shpe'][1]['median_ms'])
    text, summary = report(res, {}, dict(fp32=dict(gflops=100.0)),
                           ['hasm', 'tdr', 'shpe', 'hdr'])
    assert summary[AUTHORS_MODE]['hdr']['ms'] == \
        theirs['hdr'][1]['median_ms']
    assert AUTHORS_NOTE in text.splitlines()
    assert '(composed) |' in text and '(= eager) |' in text
    assert 'end-to-end speed-up over authors: eager ' in text


def test_compose_and_report_on_given_numbers():
    """hdr composed only where all five timings exist; the marks are in
    the cells, the footnote and both speed-up lines under the table."""
    results = dict(
        eager=dict(hasm={1: summarize([0.010], 1)},
                   tdr={1: summarize([0.020], 1)},
                   shpe={1: summarize([0.030], 1)},
                   hdr={1: summarize([0.100], 1), 2: summarize([0.150], 2)}),
        authors=dict(tdr={1: summarize([0.040], 1)},
                     shpe={1: summarize([0.050], 1)}))
    compose_authors(results)
    assert results['authors']['hdr'][1]['median_ms'] == pytest.approx(140.0)
    assert 2 not in results['authors']['hdr']  # no tdr/shpe at batch 2
    text, _ = report(results, {}, {}, ['hasm', 'hdr'])
    lines = text.splitlines()
    assert lines[2] == ('| hasm | 1 two-hand crop | n/a | 10.0 | 100.00 | '
                        '10.0 (= eager) | 100.00 (= eager) |')
    assert lines[3].endswith('| 140.0 (composed) | 7.14 (composed) |')
    assert 'end-to-end speed-up over eager: authors 0.71x' in lines
    assert 'end-to-end speed-up over authors: eager 1.40x' in lines
    assert AUTHORS_NOTE in lines
