"""A crafted checkpoint's payload never runs through any entry point:
tools/test.py, tools/train.py --resume, the combiner, HDRInferencer,
tools/deployment/pytorch2onnx.py (even with torch's environment switch
to full unpickling set) and the hand detector. Each refuses the file with
an error naming it and the opt-in."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from hdr_mm.utils.checkpoint_loading import UnsafeCheckpointError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHPE = 'configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py'
HDR = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


@pytest.fixture
def evil(tmp_path, crafted_checkpoint):
    marker = tmp_path / 'pwned'
    return crafted_checkpoint(tmp_path / 'evil.pth', marker), marker


def _run(args, tmp_path, env=None):
    return subprocess.run([sys.executable] + args, cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env=None if env is None else dict(os.environ,
                                                            **env))


def _assert_refused(proc, path, marker):
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('hdr_mm.utils.checkpoint_loading.'
                           'UnsafeCheckpointError: refused to load '
                           f'checkpoint {path}'), proc.stderr[-3000:]
    assert '--unsafe-load' in last
    assert not marker.exists()


def _shpe_options(synthetic_root):
    return ['--cfg-options', 'synthetic_data=None',
            f'data_root={synthetic_root}/interhand2.6m/']


def test_tools_test(tmp_path, evil, synthetic_root):
    path, marker = evil
    proc = _run(['tools/test.py', SHPE, path, '--work-dir',
                 str(tmp_path / 'w')] + _shpe_options(synthetic_root),
                tmp_path)
    _assert_refused(proc, path, marker)


def test_tools_train_resume(tmp_path, evil, synthetic_root):
    path, marker = evil
    proc = _run(['tools/train.py', SHPE, '--resume', path, '--work-dir',
                 str(tmp_path / 'w')] + _shpe_options(synthetic_root),
                tmp_path)
    _assert_refused(proc, path, marker)


def test_combiner(tmp_path, evil, hdr_pipeline_checkpoint):
    path, marker = evil
    stages = osp.dirname(hdr_pipeline_checkpoint)
    out = str(tmp_path / 'hdr.pth')
    proc = _run(['tools/misc/combine_hdr_checkpoint.py', out, '--hasm',
                 osp.join(stages, 'hasm.pth'), '--tdr', path, '--shpe',
                 osp.join(stages, 'shpe.pth'), '--config', HDR], tmp_path)
    _assert_refused(proc, path, marker)
    assert not osp.exists(out)


def test_inferencer(evil):
    from hdr_mm.apis import HDRInferencer
    path, marker = evil
    with pytest.raises(UnsafeCheckpointError,
                       match=f'{path}.*unsafe_load=True'):
        HDRInferencer(osp.join(ROOT, HDR), path, device='cpu')
    assert not marker.exists()


def test_inferencer_checks_the_config(tmp_path):
    from hdr_mm.apis import HDRInferencer
    from hdr_mm.engine.config_check import ConfigCheckError
    cfg = tmp_path / 'bad.py'
    cfg.write_text(f"_base_ = [{osp.join(ROOT, HDR)!r}]\n"
                   "model = dict(type='HDRPoseEstimater')\n")
    with pytest.raises(ConfigCheckError,
                       match=r"bad.py: `model.type` = 'HDRPoseEstimater'"):
        HDRInferencer(str(cfg), device='cpu')


def test_pytorch2onnx_whatever_the_environment(tmp_path, evil):
    """``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` makes torch unpickle fully
    wherever weights_only is not passed (mmengine's loaders): the tool
    still reads weights-only."""
    path, marker = evil
    out = tmp_path / 'onnx'
    proc = _run(['tools/deployment/pytorch2onnx.py', HDR, path, '--out-dir',
                 str(out), '--stages', 'tdr'], tmp_path,
                env=dict(TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1'))
    _assert_refused(proc, path, marker)
    assert not list(out.iterdir())


def test_hand_detector(evil):
    from mmengine.utils import get_installed_path

    from hdr_mm.apis import build_hand_detector
    path, marker = evil
    det_cfg = osp.join(get_installed_path('mmpose'), '.mim', 'demo',
                       'mmdetection_cfg', 'rtmdet_nano_320-8xb32_hand.py')
    with pytest.raises(UnsafeCheckpointError,
                       match=f'{path}.*unsafe_load=True'):
        build_hand_detector(det_cfg, path)
    assert not marker.exists()
