"""--cfg-options keys that nothing would read are refused by
tools/train.py, tools/test.py and the mim commands (which run copies of
the same scripts from the package's .mim folder)."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHPE = 'configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py'

#: mim with hdr_mm's installed root replaced by a folder whose .mim/tools
#: is this checkout's tools/ (what setup.py copies there on install)
MIM = textwrap.dedent('''
    import importlib
    import sys
    module = importlib.import_module('mim.commands.' + sys.argv[1])
    module.get_installed_path = lambda package: {root!r}
    module.cli(sys.argv[2:])
''')


def _last_line(proc) -> str:
    assert proc.returncode != 0
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_tools_refuse_a_misspelled_key(tool, tmp_path):
    args = [SHPE] + (['missing.pth'] if 'test' in tool else []) + [
        '--work-dir', str(tmp_path), '--cfg-options',
        'test_dataloder.batch_size=2'
    ]
    proc = subprocess.run([sys.executable, tool] + args, cwd=ROOT,
                          capture_output=True, text=True)
    line = _last_line(proc)
    assert line.startswith(
        'hdr_mm.engine.config_options.ConfigOptionError: --cfg-options '
        'test_dataloder.batch_size: the config has no top-level key of '
        "that name and the Runner reads none; `test_dataloder` would be "
        "ignored. Did you mean 'test_dataloader'?")


def test_mim_train_runs_the_same_check(tmp_path):
    pkg = tmp_path / 'hdr_mm'
    (pkg / '.mim').mkdir(parents=True)
    os.symlink(osp.join(ROOT, 'tools'), pkg / '.mim' / 'tools')
    script = MIM.format(root=str(pkg))
    proc = subprocess.run(
        [sys.executable, '-c', script, 'train', 'hdr_mm', SHPE,
         '--work-dir', str(tmp_path / 'w'), '--cfg-options',
         'train_dataloader.batch_sise=2'],
        cwd=ROOT, capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert 'ConfigOptionError: --cfg-options train_dataloader.batch_sise' \
        in proc.stderr and "Did you mean 'batch_size'" in proc.stderr
    assert f'{pkg}/.mim/tools/train.py' in proc.stdout  # mim's command
