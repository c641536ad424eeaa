import subprocess
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]


def _run(*args):
    subprocess.run([sys.executable, str(ROOT / 'tools/misc/browse_aih.py'),
                    *args], check=True, capture_output=True,
                   cwd=ROOT, env={'PYTHONPATH': str(ROOT), 'PATH': ''})


def test_browse_panels(synthetic_root, tmp_path):
    out = tmp_path / 'aih.png'
    _run('--data-root', str(synthetic_root), '--num', '2', '--tile', '64',
         '--syn-dir', 'AIH_syn', '--out', str(out))
    img = cv2.imread(str(out))
    assert img.shape == (2 * 64, 7 * 64, 3)
    out = tmp_path / 'ih.png'
    _run('--data-root', str(synthetic_root), '--mode', 'interhand', '--num',
         '3', '--tile', '64', '--out', str(out))
    assert cv2.imread(str(out)).shape == (3 * 64, 5 * 64, 3)
