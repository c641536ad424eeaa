"""tools/test.py on the HDR pipeline with precision='auto' and
backend='auto' (the configs' default), on a few generated frames: it
evaluates, logs the chosen path with the reason, and writes no ONNX file
outside a temporary folder."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


def test_tools_test_with_auto(hdr_pipeline_checkpoint, tmp_path):
    from hdr_mm.deploy.auto import decide_runtime, machine_facts
    data = tmp_path / 'frames'
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', CONFIG, hdr_pipeline_checkpoint,
         '--work-dir', str(tmp_path / 'work'), '--cfg-options',
         f'synthetic_data.out_dir={data}', 'synthetic_data.num_samples=6',
         f'data_root={data}/interhand2.6m/', 'model.precision=auto',
         'model.backend=auto'],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    reason = decide_runtime(machine_facts()).reason
    assert f'runtime auto: {reason}' in log
    assert 'hand/MPJPE_all: ' in log
    assert not [p for p in tmp_path.rglob('*.onnx')]
