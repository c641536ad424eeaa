"""One generator run at a time per out_dir; nothing another run wrote is
deleted without overwrite; killed runs' temporary folders are cleaned."""
import json
import os.path as osp
import subprocess
import sys
import threading
import time

from hdr_mm.datasets.synthetic import (ensure_synthetic_hands,
                                       generate_synthetic_hands)
from hdr_mm.datasets.synthetic.generator import out_dir_lock

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
ARGS = dict(num_samples=2, img_size=64, seed=1, progress=False)


def test_a_waiting_run_does_not_replace_what_the_first_wrote(tmp_path):
    out = tmp_path / 'hands'
    errors = []

    def second_run():
        try:
            generate_synthetic_hands(str(out), **ARGS)
        except Exception as e:  # noqa: B902
            errors.append(e)

    with out_dir_lock(str(out)):  # the first run is generating
        thread = threading.Thread(target=second_run)
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive()  # waits for the lock
        out.mkdir()  # the first run's result appears
        (out / 'meta.json').write_text('{"by": "first run"}')
    thread.join(60)
    assert len(errors) == 1 and isinstance(errors[0], FileExistsError)
    assert 'already exists' in str(errors[0])
    assert json.loads((out / 'meta.json').read_text()) == {'by': 'first run'}


def test_stale_temporary_folders_are_removed(tmp_path):
    stale = tmp_path / 'hands.tmp-k1ll3d'
    (stale / 'interhand2.6m').mkdir(parents=True)
    other = tmp_path / 'other.tmp-abc'  # another out_dir's: kept
    other.mkdir()
    generate_synthetic_hands(str(tmp_path / 'hands'), **ARGS)
    assert not stale.exists() and other.exists()
    stale.mkdir()  # killed again (e.g. an --overwrite run)
    ensure_synthetic_hands(str(tmp_path / 'hands'), **ARGS)
    assert not stale.exists()


def test_two_concurrent_tool_runs(tmp_path):
    """Two generate_synthetic_hands.py runs into one --out-dir: one writes
    the dataset, the other fails and deletes nothing."""
    tool = osp.join(ROOT, 'tools/dataset_converters/'
                    'generate_synthetic_hands.py')
    out = str(tmp_path / 'hands')
    cmd = [sys.executable, tool, '--out-dir', out, '--num-samples', '3',
           '--img-size', '64']
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    failed = [err for rc, err in results if rc][0]
    assert 'FileExistsError' in failed and 'already exists' in failed
    meta = json.loads(open(osp.join(out, 'meta.json')).read())
    assert meta['args']['num_samples'] == 3
    assert not [p for p in tmp_path.iterdir() if '.tmp-' in p.name]


def test_overwrite_replaces(tmp_path):
    out = tmp_path / 'hands'
    generate_synthetic_hands(str(out), **ARGS)
    meta = generate_synthetic_hands(str(out), overwrite=True,
                                    **dict(ARGS, num_samples=3))
    assert meta['args']['num_samples'] == 3
