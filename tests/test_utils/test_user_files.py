"""hdr_mm.utils.user_files: a file a user hands over is refused with its
name and what it was meant to be, whatever is wrong with it."""
import pytest

from hdr_mm.utils.user_files import ConfigFileError, read_config, require_file


def test_require_file(tmp_path):
    path = tmp_path / 'a.pth'
    path.write_bytes(b'x')
    assert require_file(str(path), 'HDR checkpoint') == str(path)
    with pytest.raises(FileNotFoundError) as e:
        require_file(str(tmp_path / 'absent.pth'), 'HDR checkpoint')
    assert str(e.value) == \
        f'HDR checkpoint not found: {tmp_path / "absent.pth"}'
    with pytest.raises(IsADirectoryError) as e:
        require_file(str(tmp_path), 'detector checkpoint')
    assert str(e.value) == \
        f'detector checkpoint {tmp_path} is a folder; expected a file'


def test_a_good_config_reads(tmp_path):
    path = tmp_path / 'ok.py'
    path.write_text("model = dict(type='TDR')\n")
    cfg = read_config(str(path))
    assert cfg.model.type == 'TDR' and cfg.filename == str(path)


@pytest.mark.parametrize('name, text, message', [
    ('evil.pth', 'PK\x03\x04', r'is not a config file: expected one of '
     r'\.py, \.json, \.yaml, \.yml \(is it a checkpoint'),
    ('syntax.py', 'model = dict(type=\n', r'^cannot read detector config '
     r'.*syntax\.py: SyntaxError: '),
    ('base.py', "_base_ = ['absent.py']\n", r'^cannot read detector config '
     r'.*base\.py: FileNotFoundError: .*absent\.py'),
    ('fails.py', 'x = 1 / 0\n', r'fails\.py: ZeroDivisionError'),
    ('list.yaml', '- a\n- b\n', r'^cannot read detector config .*list\.yaml'),
    ('bad.json', '{not json', r'^cannot read detector config .*bad\.json'),
    ('empty.py', 'x = 1\n', r'^detector config .*empty\.py has no `model` '
     r'\(expected a config that defines `model`\)$'),
])
def test_a_bad_config_is_named(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigFileError, match=message):
        read_config(str(path), 'detector config')


def test_a_missing_config_or_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match='^HDR config not found: .*absent.py$'):
        read_config(str(tmp_path / 'absent.py'), 'HDR config')
    with pytest.raises(IsADirectoryError, match='is a folder'):
        read_config(str(tmp_path), 'HDR config')
