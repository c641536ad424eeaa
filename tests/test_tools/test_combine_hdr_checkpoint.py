import os.path as osp
import subprocess
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = 'tools/misc/combine_hdr_checkpoint.py'


def test_tool_combines_then_refuses_to_overwrite(tmp_path,
                                                 hdr_pipeline_checkpoint):
    stages = osp.dirname(hdr_pipeline_checkpoint)
    out = str(tmp_path / 'hdr.pth')
    cmd = [sys.executable, TOOL, out] + [
        a for s in ('hasm', 'tdr', 'shpe')
        for a in (f'--{s}', osp.join(stages, f'{s}.pth'))
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith(f'wrote {out}: hasm ')
    ref = torch.load(hdr_pipeline_checkpoint, weights_only=True)
    ours = torch.load(out, weights_only=True)
    assert list(ours['state_dict']) == list(ref['state_dict'])
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and 'pass --overwrite' in proc.stderr
