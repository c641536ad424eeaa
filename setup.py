"""Installation script of hdr_mm.

Besides the Python package, ``tools/``, ``configs/`` and ``projects/``
are placed in ``hdr_mm/.mim/`` so that ``mim train hdr_mm <config>`` and
``mim test`` find them (and a project config's ``custom_imports`` of
``projects.<name>.models``, since ``tools/train.py`` puts ``.mim`` on the
path): copied for a regular install, symlinked for a legacy
development install (``python setup.py develop``).
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('tools', 'configs', 'projects')


def read_version() -> str:
    """Read ``__version__`` from ``hdr_mm/version.py`` without importing."""
    scope: dict = {}
    with open(osp.join(ROOT, 'hdr_mm', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def read_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>.txt``, comments dropped."""
    path = osp.join(ROOT, 'requirements', f'{name}.txt')
    with open(path) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def add_mim_extension() -> None:
    """Place ``tools`` and ``configs`` under ``hdr_mm/.mim``.

    A development (editable) install links them, so edits are seen at
    once; any other build copies them, so the installed package stands
    alone.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif any(cmd in sys.argv
             for cmd in ('sdist', 'bdist_wheel', 'install', 'build',
                         'build_py', 'egg_info')):
        mode = 'copy'
    else:
        return
    mim_root = osp.join(ROOT, 'hdr_mm', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(ROOT, name)
        dst = osp.join(mim_root, name)
        if not osp.isdir(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_root), dst)
        else:
            shutil.copytree(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='hdr_mm',
        version=read_version(),
        description='HDR: 3D interacting hand pose estimation by hand '
        'de-occlusion and removal, on OpenMMLab',
        long_description=open(osp.join(ROOT, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        python_requires='>=3.9',
        packages=find_packages(exclude=('configs', 'tools', 'tests',
                                        'projects', 'demo')),
        include_package_data=True,
        package_data={'hdr_mm': ['.mim/**/*']},
        install_requires=read_requirements('runtime'),
        extras_require={'tests': read_requirements('tests')},
        zip_safe=False,
    )
