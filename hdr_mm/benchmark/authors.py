"""The authors' own TDR and SHPE networks in the benchmark (the
``authors`` column, ``--authors-repo``).

Their TDR generator (``PConvUNet`` in ``models/DR_Net/backbone/
pconv_unet.py``) and their DetNet (``models/HPE_Net/module.py``) are
imported from a clone of their repository
(https://github.com/MengHao666/HDR) that the user names, and built as
their demo builds them (``experiments/demo.yaml``: ``input_channels=8,
layer_size=8``; ``hpe_stacks=1``), in eval mode and fp32 with random
weights. Importing runs their code: ``--authors-repo`` is the explicit
opt-in to that; nothing of theirs ships with hdr_mm.

Their package ``__init__`` files import everything (mmseg 0.x, the
losses, the trainers), so they are not executed: empty namespace modules
stand in for the packages ``models``, ``models.DR_Net``,
``models.DR_Net.backbone``, ``models.HPE_Net`` and ``utils`` (the
latter two are also what their ``import models`` / ``import utils``
statements get) while the two modules are imported, and ``sys.modules``
is restored afterwards. Their ``pvt_v2.py`` registers its models in
timm's registry, replacing timm's own ``pvt_v2_*`` entries for the rest
of the process.

Timed with the other modes, call by call on the same input tensors:
``tdr`` (their ``generator(x, mask)``, 2N crops of 8 channels, as their
``forward_only`` calls it) and ``shpe`` (their ``DetNet(x)``, 2N crops:
its maps and its arg-max read-out, as their ``forward_only`` calls it).
The other two stages are composed from eager (:func:`compose_authors`):
``hasm`` is taken equal to eager's (the same SegFormer), ``hdr`` is eager
``hdr`` - eager (``tdr`` + ``shpe``) + authors (``tdr`` + ``shpe``), our
glue and HASM around their two networks.
"""
import contextlib
import importlib
import importlib.util
import os.path as osp
import sys
import types
import warnings
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from .modes import ModeSetup
from .pipeline import stage_networks

#: the column of the authors' networks
AUTHORS_MODE = 'authors'
#: stage -> (their module, their class, its arguments in their demo,
#: ``experiments/demo.yaml``: the paper-size networks)
AUTHORS_NETWORKS: Dict[str, Tuple[str, str, Dict[str, int]]] = dict(
    tdr=('models.DR_Net.backbone.pconv_unet', 'PConvUNet',
         dict(input_channels=8, layer_size=8)),
    shpe=('models.HPE_Net.module', 'DetNet', dict(stacks=1)))
#: the packages whose ``__init__`` is replaced by an empty namespace
AUTHORS_NAMESPACES = ('models', 'models.DR_Net', 'models.DR_Net.backbone',
                      'models.HPE_Net', 'utils')
#: what their two modules import beyond torch and numpy
AUTHORS_PACKAGES = ('timm', 'einops')
#: their crop size for TDR and SHPE (``input_img_shape``; DetNet's
#: position tile is fixed at 64x64, a quarter of it)
AUTHORS_INPUT_SIZE = 256
#: cell marks of the stages composed from eager (:func:`compose_authors`)
COMPOSED_MARKS = dict(hasm='= eager', hdr='composed')
#: the report's footnote on the authors' column
AUTHORS_NOTE = (
    "authors: the authors' TDR generator (PConvUNet) and DetNet from "
    '--authors-repo, PyTorch fp32 eager, random weights, timed on the same '
    'inputs as the other modes, interleaved; hasm (= eager): taken equal '
    "to eager's (the same SegFormer); hdr (composed): eager hdr - eager "
    '(tdr + shpe) + authors (tdr + shpe), i.e. our glue and HASM with '
    'their two networks.')


def _module_file(repo: str, module: str) -> str:
    """The file of ``module`` in the repository at ``repo``."""
    return osp.join(repo, *module.split('.')) + '.py'


def check_authors_repo(repo_path: str) -> str:
    """Check that ``repo_path`` is a clone of the authors' repository
    with the modules the benchmark imports, and that their imports are
    installed; nothing of theirs is run.

    Args:
        repo_path: The folder of the clone
            (``git clone https://github.com/MengHao666/HDR``).

    Returns:
        str: the absolute path of the clone.

    Raises:
        FileNotFoundError: no such folder, or the files expected are not
            in it (named).
        ImportError: a package their modules import is not installed
            (named).
    """
    repo = osp.abspath(osp.expanduser(repo_path))
    if not osp.isdir(repo):
        raise FileNotFoundError(
            f'--authors-repo {repo_path}: no such folder; expected a clone '
            'of https://github.com/MengHao666/HDR')
    expected = [_module_file(repo, m) for m, _, _ in
                AUTHORS_NETWORKS.values()]
    missing = [osp.relpath(f, repo) for f in expected if not osp.isfile(f)]
    if missing:
        raise FileNotFoundError(
            f'--authors-repo {repo_path}: not the authors\' repository '
            f'(https://github.com/MengHao666/HDR): {", ".join(missing)} '
            'missing; expected their PConvUNet and DetNet there')
    absent = [p for p in AUTHORS_PACKAGES
              if importlib.util.find_spec(p) is None]
    if absent:
        raise ImportError(
            f'--authors-repo: their networks need {", ".join(absent)} '
            f'(pip install {" ".join(absent)}); timm for the PVT blocks '
            'of PConvUNet, einops for DetNet')
    return repo


def _is_theirs(name: str) -> bool:
    """Whether ``name`` is one of their top-level packages or below."""
    return any(name == top or name.startswith(top + '.')
               for top in ('models', 'utils'))


@contextlib.contextmanager
def _their_namespaces(repo: str) -> Iterator[None]:
    """Empty namespace modules for their packages while importing from
    ``repo`` (their ``__init__`` files are not run); afterwards
    ``sys.modules`` holds again what it held before for those names."""
    saved = {k: v for k, v in sys.modules.items() if _is_theirs(k)}
    for name in saved:
        del sys.modules[name]
    try:
        for name in AUTHORS_NAMESPACES:
            module = types.ModuleType(name)
            module.__path__ = [osp.join(repo, *name.split('.'))]
            module.__package__ = name
            sys.modules[name] = module
        yield
    finally:
        for name in [k for k in sys.modules if _is_theirs(k)]:
            del sys.modules[name]
        sys.modules.update(saved)


def load_authors_networks(repo_path: str,
                          seed: int = 0) -> Dict[str, nn.Module]:
    """The authors' paper-size TDR generator and DetNet, imported from
    their repository: eval mode, fp32, random weights.

    Runs their code (their two modules and what they import from their
    repository), without their packages' ``__init__`` files.

    Args:
        repo_path: A clone of https://github.com/MengHao666/HDR.
        seed: The seed of the random weights (the global RNG is left as
            it was).

    Returns:
        dict: ``tdr`` -> ``PConvUNet(input_channels=8, layer_size=8)``,
        called ``generator(x, mask)``; ``shpe`` -> ``DetNet(stacks=1)``,
        called ``detnet(x)``.

    Raises:
        FileNotFoundError: see :func:`check_authors_repo`.
        ImportError: a package is missing, or importing their modules
            failed (their message, naming the module).
    """
    repo = check_authors_repo(repo_path)
    classes = {}
    with _their_namespaces(repo), warnings.catch_warnings():
        # their pvt_v2 re-registers timm's pvt_v2_* models
        warnings.filterwarnings('ignore', message='Overwriting .* registry')
        warnings.filterwarnings('ignore', category=FutureWarning)
        for stage, (module, cls, _) in AUTHORS_NETWORKS.items():
            try:
                classes[stage] = getattr(importlib.import_module(module), cls)
            except (ImportError, AttributeError) as e:
                raise ImportError(
                    f'--authors-repo {repo_path}: importing {cls} from '
                    f'{osp.relpath(_module_file(repo, module), repo)} '
                    f'failed ({type(e).__name__}: {e}); expected the '
                    "authors' repository, with timm and einops "
                    'installed') from e
    networks = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for stage, (_, _, kwargs) in AUTHORS_NETWORKS.items():
            net = classes[stage](**kwargs).float()
            net.eval()  # their PConvUNet.train returns None: not chained
            networks[stage] = net
    return networks


def _shape_mismatch(what: str, ours: Mapping[str, Tuple[int, ...]],
                    theirs: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
    """Where two key -> shape maps differ, in one phrase; None if equal."""
    absent = sorted(set(theirs) - set(ours))
    extra = sorted(set(ours) - set(theirs))
    differ = [k for k in theirs if k in ours and ours[k] != theirs[k]]
    parts = []
    if absent:
        parts.append(f'{len(absent)} of their tensors absent '
                     f'(e.g. {absent[0]})')
    if extra:
        parts.append(f'{len(extra)} not in theirs (e.g. {extra[0]})')
    if differ:
        k = differ[0]
        parts.append(f'{len(differ)} of other shapes (e.g. {k}: '
                     f'{tuple(ours[k])} here, {tuple(theirs[k])} theirs)')
    return f'{what}: ' + ', '.join(parts) if parts else None


def _their_shapes(net: nn.Module,
                  key_map: Any) -> Dict[str, Tuple[int, ...]]:
    """Their state dict's shapes under hdr_mm's keys (``key_map`` of the
    checkpoint converter; the dropped keys left out)."""
    from hdr_mm.models.tdr.checkpoint_conversion import DROP
    sd = net.state_dict()
    keys = key_map(sd.keys())
    return {keys[k]: tuple(v.shape) for k, v in sd.items()
            if keys[k] != DROP}


def check_paper_size(model: nn.Module,
                     networks: Mapping[str, nn.Module]) -> None:
    """Check that the pipeline's TDR generator and SHPE network are the
    authors' paper-size ones: the same tensors (their names mapped by
    hdr_mm's checkpoint converters) with the same shapes, on
    :data:`AUTHORS_INPUT_SIZE` crops. Only then do both columns do the
    same work.

    Args:
        model: The pipeline (``HDRPoseEstimator``).
        networks: :func:`load_authors_networks` output.

    Raises:
        ValueError: they differ; the message says where.
    """
    from hdr_mm.models.shpe.checkpoint_conversion import shpe_key_map
    from hdr_mm.models.tdr.checkpoint_conversion import generator_key_map
    from hdr_mm.utils.checkpoint import CheckpointKeyError
    problems: List[str] = []
    ours = stage_networks(model)
    pairs = dict(tdr=('TDR generator', generator_key_map,
                      lambda net: net.generator),
                 shpe=('SHPE DetNet', shpe_key_map,
                       lambda net: net.pose_estimator))
    for stage, (what, key_map, inner) in pairs.items():
        if stage not in ours:
            problems.append(f'{what}: the config has no {stage} stage')
            continue
        size = getattr(model, f'{stage}_size')
        if size != AUTHORS_INPUT_SIZE:
            problems.append(f'{what}: {size}x{size} crops, theirs '
                            f'{AUTHORS_INPUT_SIZE}x{AUTHORS_INPUT_SIZE}')
        try:
            theirs = _their_shapes(networks[stage], key_map)
        except CheckpointKeyError as e:
            problems.append(f'{what}: their tensors do not map onto '
                            f"hdr_mm's ({e})")
            continue
        mine = {k: tuple(v.shape)
                for k, v in inner(ours[stage]).state_dict().items()}
        problem = _shape_mismatch(what, mine, theirs)
        if problem:
            problems.append(problem)
    if problems:
        raise ValueError(
            "--authors-repo times the authors' paper-size TDR generator "
            "and DetNet on this config's inputs, so the config's TDR and "
            'SHPE must be paper size too (configs/hdr/'
            'hdr_paper_interhand2.6m-256x256.py); here: ' +
            '; '.join(problems))


def authors_setup(networks: Mapping[str, nn.Module], repo_path: str,
                  device: Optional[torch.device] = None) -> ModeSetup:
    """The mode :data:`AUTHORS_MODE`: the authors' networks called on the
    benchmark's inputs (no pipeline of its own: :func:`~.modes.
    time_modes` gives it the inputs of the first mode).

    Args:
        networks: :func:`load_authors_networks` output.
        repo_path: Where they come from (for the report).
        device: Where they run (moved there); None: where they are.

    Returns:
        ModeSetup: runners for ``tdr`` (``generator(x, mask)``) and
        ``shpe`` (``detnet(x)``), no runtime (PyTorch fp32).
    """
    tdr, shpe = networks['tdr'], networks['shpe']
    if device is not None:
        tdr, shpe = tdr.to(device), shpe.to(device)
    args = {s: ', '.join(f'{k}={v}' for k, v in a.items())
            for s, (_, _, a) in AUTHORS_NETWORKS.items()}
    note = (f"the authors' PConvUNet({args['tdr']}) and "
            f"DetNet({args['shpe']}) from {repo_path}, PyTorch fp32 eager, "
            'random weights; hasm and hdr composed from eager (see below)')
    return ModeSetup(
        None,
        dict(tdr=lambda x: tdr(x.tdr_x, x.tdr_mask), shpe=lambda x: shpe(
            x.shpe)), None, note)


def _composed(median_ms: float, n: int, mark: str) -> Dict[str, Any]:
    """A composed result: the statistics a summary has that a composed
    median supports, and the mark of its cells."""
    return dict(median_ms=median_ms, ms_per_image=median_ms / n,
                images_per_s=n * 1e3 / median_ms if median_ms > 0 else
                float('inf'), composed=mark)


def compose_authors(results: Dict[str, Dict[str, Dict[int, Dict]]],
                    ref: str = 'eager'
                    ) -> Dict[str, Dict[str, Dict[int, Dict]]]:
    """Fill in the authors' ``hasm`` and ``hdr`` from ``ref`` (in place):
    ``hasm`` equal to ``ref``'s, ``hdr`` = ``ref`` hdr - ``ref`` (tdr +
    shpe) + authors (tdr + shpe), per batch size where all five were
    timed; each marked ``composed`` (:data:`COMPOSED_MARKS`).

    Args:
        results: :func:`~.modes.time_modes` output with
            :data:`AUTHORS_MODE` and ``ref``.
        ref: The mode whose HASM and glue the authors' column takes.

    Returns:
        dict: ``results``.
    """
    if AUTHORS_MODE not in results or ref not in results:
        return results
    base, theirs = results[ref], results[AUTHORS_MODE]

    def median(per_mode: Dict, stage: str, n: int) -> Optional[float]:
        return per_mode.get(stage, {}).get(n, {}).get('median_ms')

    for n, res in base.get('hasm', {}).items():
        if 'median_ms' in res:
            theirs.setdefault('hasm', {})[n] = _composed(
                res['median_ms'], n, COMPOSED_MARKS['hasm'])
    for n in base.get('hdr', {}):
        parts = [median(base, 'hdr', n)] + [
            median(m, s, n) for m in (base, theirs) for s in ('tdr', 'shpe')]
        if None in parts:
            continue
        hdr, ref_tdr, ref_shpe, tdr, shpe = parts
        theirs.setdefault('hdr', {})[n] = _composed(
            hdr - ref_tdr - ref_shpe + tdr + shpe, n, COMPOSED_MARKS['hdr'])
    return results
