"""tools/hdr_main_job.py: its main path on tiny generated data (a couple of
training iterations per stage), its option parsing and its checks before
any work."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import hdr_main_job  # noqa: E402
import hdr_main_job_report as report  # noqa: E402


def _data(root, seed, splits):
    return [f'synthetic_data.out_dir={root}', 'synthetic_data.num_samples=10',
            'synthetic_data.img_size=96', f'synthetic_data.seed={seed}',
            f'synthetic_data.split_ratios={splits}']


def test_split_options():
    opts = hdr_main_job.split_options(
        ['hasm.train_cfg.max_iters=2', 'hdr.data_root=x/', 'hasm.a.b=1'])
    assert opts['hasm'] == ['train_cfg.max_iters=2', 'a.b=1']
    assert opts['hdr'] == ['data_root=x/']
    assert opts['tdr'] == [] and opts['shpe'] == []
    for bad in ('hasm', 'hsam.train_cfg.max_iters=2', 'train_cfg=1',
                'hdr.=3'):
        with pytest.raises(ValueError, match='STAGE.KEY=VALUE'):
            hdr_main_job.split_options([bad])


def test_unknown_key_is_refused():
    with pytest.raises(Exception, match='test_dataloder'):
        hdr_main_job.load_config(hdr_main_job.HDR_CONFIG,
                                 ['test_dataloder.batch_size=2'])


def test_configs_are_checked_before_any_work(tmp_path):
    """A typo in any stage's options or config fails in seconds, naming
    the stage, before data is generated or anything trained."""
    work, data = tmp_path / 'job', tmp_path / 'test_data'
    hdr = [f'hdr.{o}' for o in _data(data, 1000, '(0,0,1)')]
    hdr.append(f'hdr.data_root={data}/interhand2.6m/')
    cmd = [sys.executable, osp.join(ROOT, 'tools/hdr_main_job.py'),
           '--work-dir', str(work), '--cfg-options',
           'shpe.train_cfg.max_epoch=1', *hdr]
    run = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert 'main job: shpe' in run.stderr and "'max_epochs'" in run.stderr
    assert 'Traceback' not in run.stderr
    assert not work.exists() and not data.exists()
    # the config checks of tools/train.py too (here an unknown type), and
    # the data roots the job will generate are not required yet
    opts = hdr_main_job.split_options(hdr + ['tdr.model.type=TDRR'])
    with pytest.raises(ValueError, match="^tdr .*'TDRR'"):
        hdr_main_job.check_configs(opts)
    cfgs = hdr_main_job.check_configs(hdr_main_job.split_options(hdr))
    assert set(cfgs) == set(hdr_main_job.OPTION_TARGETS)
    assert not data.exists()


def test_seed_goes_to_every_stage_without_one():
    opts = hdr_main_job.split_options(['hasm.randomness.seed=7'])
    hdr_main_job.with_seed(opts, 3)
    assert opts['hasm'] == ['randomness.seed=7']
    assert opts['tdr'] == opts['shpe'] == ['randomness.seed=3']
    assert opts['hdr'] == []


def test_each_dataset_is_generated_once():
    """The data step generates the stages' shared training set and the
    pipeline's test split, each once."""
    cfgs = hdr_main_job.check_configs(hdr_main_job.split_options([]))
    data = hdr_main_job.unique_data(cfgs)
    assert [d['out_dir'] for d in data] == [
        'data/synthetic_hands', 'data/synthetic_hands_test']
    assert data[1]['split_ratios'] == (0.0, 0.0, 1.0)


def test_last_val_metrics_of_a_training_run(tmp_path):
    """The last validation line over every run in the work dir (train
    lines have ``lr`` and losses), with PCK and MPJPE picked out."""
    for stamp, lines in (
            ('20260101_000000', [
                dict(lr=0.1, loss=1.0, epoch=1, iter=10, step=10),
                dict(**{'shpe/PCK@0.2': 0.1, 'shpe/MPJPE': 90.0},
                     data_time=0.1, time=0.2, step=1)]),
            ('20260102_000000', [
                dict(**{'shpe/PCK@0.2': 0.3, 'shpe/PA-MPJPE': 40.0,
                        'shpe/MPJPE': 70.0}, time=0.2, step=2),
                dict(lr=0.1, loss_kpt=0.5, epoch=3, iter=30, step=30)])):
        folder = tmp_path / stamp / 'vis_data'
        folder.mkdir(parents=True)
        (folder / 'scalars.json').write_text(
            ''.join(json.dumps(line) + '\n' for line in lines) + '{"cut')
    last = report.last_val_metrics(str(tmp_path))
    assert last == {'shpe/PCK@0.2': 0.3, 'shpe/PA-MPJPE': 40.0,
                    'shpe/MPJPE': 70.0, 'step': 2}
    metrics = dict(shpe_alone={'hdr/deocc/psnr': 10.0},
                   hdr={'hdr/deocc/psnr': 12.5, 'hdr/mask/mIoU': 0.5})
    stages = report.stage_numbers(metrics, str(tmp_path))
    assert stages['shpe']['pck'] == 0.3 and stages['shpe']['mpjpe'] == 70.0
    assert stages['hasm'] == dict(mIoU=0.5)
    assert stages['tdr']['deocc_gain_db'] == 2.5
    assert stages['tdr']['removal_gain_db'] is None
    assert report.stage_numbers(metrics, str(tmp_path / 'none'))['shpe'] \
        == {}
    assert report.matching_metric({'PA-MPJPE': 1, 'x_MPJPE': 2},
                                  r'(.*[^-])?MPJPE') == 2
    # HandMPJPEMetric's keys carry the split (``MPJPE_all``)
    assert report.matching_metric(
        {'hand/PA-MPJPE_all': 1, 'hand/MPJPE_single': 3,
         'hand/MPJPE_all': 2}, r'(.*[^-])?MPJPE(_all)?') == 2
    assert report.matching_metric({'PCKh': 1, 'PCK': 2},
                                  r'.*PCK(@[^/]*)?') == 2
    gain = dict(gain=0.1)
    assert report.share_of_gain(gain, dict(gain=0.4)) == pytest.approx(0.25)
    assert report.share_of_gain(gain, dict(gain=0.0)) is None


def test_main_path(tmp_path):
    """Data -> three stages trained -> combined checkpoint -> the three
    evaluations -> table with intervals, stage numbers, timing -> one
    demo panel; a second run reuses every checkpoint."""
    train_root, test_root = tmp_path / 'train', tmp_path / 'test'
    work = tmp_path / 'job'
    opts = []
    for stage in ('hasm', 'tdr', 'shpe'):
        root = f'{train_root}/interhand2.6m/' if stage == 'shpe' \
            else str(train_root)
        opts += [f'{stage}.{o}' for o in _data(train_root, 0, '(0.6,0.2,0.2)')]
        opts += [f'{stage}.data_root={root}',
                 f'{stage}.train_dataloader.batch_size=2',
                 f'{stage}.val_dataloader.batch_size=2']
    opts += ['hasm.train_cfg.max_iters=2', 'tdr.train_cfg.max_iters=2',
             'shpe.train_cfg.max_epochs=1',
             'tdr.custom_hooks.1.enable_val=False']  # no TDR panels
    opts += [f'hdr.{o}' for o in _data(test_root, 1000, '(0,0,1)')]
    opts += [f'hdr.data_root={test_root}/interhand2.6m/',
             'hdr.test_dataloader.batch_size=2']
    cmd = [sys.executable, osp.join(ROOT, 'tools/hdr_main_job.py'),
           '--work-dir', str(work), '--demo-frames', '1', '--seed', '3',
           '--cfg-options', *opts]
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for stage, ckpt in (('hasm', 'iter_2.pth'), ('tdr', 'iter_2.pth'),
                        ('shpe', 'epoch_1.pth')):
        assert (work / stage / ckpt).is_file()
    assert (work / 'hdr.pth').is_file()
    results = json.loads((work / 'results.json').read_text())
    table = (work / 'results.md').read_text()
    assert 'MPJPE interacting' in table and 'PA-MPJPE all' in table
    assert 'ceiling (perfect TDR)' in table
    assert 'share of possible gain' in table
    assert 'Share of the possible gain (MPJPE interacting)' in table
    for key, row in results['errors'].items():
        for col in ('alone', 'hdr', 'ceiling'):
            assert row[col]['low'] <= row[col]['mean'] <= row[col]['high']
        assert np.isfinite(row['gain']['gain'])
        assert np.isfinite(row['ceiling_gain']['gain'])
        assert 'share' in row
    assert results['ceiling'].keys() == results['hdr'].keys()
    # the three evaluations scored the same frames, from the test data
    frames = [np.load(work / f'eval_{k}' / 'per_frame.npz')['frames']
              for k in ('shpe_alone', 'hdr', 'ceiling')]
    np.testing.assert_array_equal(frames[0], frames[1])
    np.testing.assert_array_equal(frames[0], frames[2])
    assert len(frames[0]) == 10
    assert list((work / 'demo').glob('*_hdr.png'))
    # the stages' own numbers
    stages = results['stages']
    assert 0 <= stages['hasm']['mIoU'] <= 1
    tdr = stages['tdr']
    for region in ('deocc', 'removal'):
        assert tdr[f'{region}_gain_db'] == pytest.approx(
            tdr[f'{region}_psnr_hdr'] - tdr[f'{region}_psnr_shpe_alone'])
    assert stages['shpe']['step'] == 1  # its one validation, after epoch 1
    assert len(stages['shpe']) > 1
    assert '| HASM | mask mIoU' in table
    assert '| SHPE | last validation' in table
    # where the time went
    timing = results['timing']
    assert list(timing) == [
        'data', 'depth_gap', 'train_hasm', 'train_tdr', 'train_shpe',
        'combine', 'evaluate', 'demo', 'total'
    ]
    assert all(t['seconds'] >= 0 for t in timing.values())
    assert timing['total']['seconds'] > 0
    assert timing['train_hasm']['iters'] == timing['train_tdr']['iters'] == 2
    for stage in ('hasm', 'tdr', 'shpe'):
        t = timing[f'train_{stage}']
        assert t['seconds'] >= t['loop_seconds'] > 0
        assert t['step_seconds'] > 0 and t['data_seconds'] > 0
        assert t['val_seconds'] > 0  # validated at the end
    assert '| train_hasm |' in table and '| total |' in table
    # seed and machine
    assert results['seed'] == 3
    assert results['stage_seeds'] == dict(hasm=3, tdr=3, shpe=3)
    cpu = results['cpu']
    assert cpu['model'] and cpu['threads'] >= 1 and 'isa' in cpu
    assert 'capability' in cpu and 'CPU: ' in table
    # a second run trains nothing again
    again = subprocess.run(cmd + ['--demo-frames', '0'], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=1200)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count('not training again') == 3
    assert 'is up to date' in again.stdout
    timing = json.loads((work / 'results.json').read_text())['timing']
    assert timing['train_tdr']['skipped'] and timing['train_tdr']['iters'] == 2
    assert 'skipped; earlier run' in (work / 'results.md').read_text()


def test_stage_scripts_run_in_a_child_that_leaves_nothing_here(tmp_path):
    """The trainings run in a child (a fork of the job where the OS can):
    its files are written, its changes to the process stay there, and a
    non-zero exit is raised with its code."""
    script = tmp_path / 'stage.py'
    script.write_text(
        'import os, sys\n'
        "open(sys.argv[1], 'w').write(' '.join(sys.argv[2:]))\n"
        "os.environ['HDR_MAIN_JOB_CHILD'] = '1'\n"
        'sys.exit(int(sys.argv[2]))\n')
    out = tmp_path / 'out.txt'
    hdr_main_job.run_in_child(str(script), [str(out), '0', 'x'])
    assert out.read_text() == '0 x'
    assert 'HDR_MAIN_JOB_CHILD' not in os.environ
    with pytest.raises(subprocess.CalledProcessError) as failed:
        hdr_main_job.run_in_child(str(script), [str(out), '3'])
    assert failed.value.returncode == 3
    assert failed.value.cmd[1:] == [str(script), str(out), '3']
