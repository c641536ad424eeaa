"""Checks that the installed OpenMMLab packages are ones hdr_mm supports."""
from typing import Dict, Tuple

from mmengine.utils import digit_version

#: package -> (lowest supported version, first unsupported version)
SUPPORTED: Dict[str, Tuple[str, str]] = {
    'mmcv': ('2.0.0', '2.2.0'),
    'mmpose': ('1.1.0', '1.4.0'),
    'mmengine': ('0.8.0', '1.0.0'),
}


def check_stack_versions(supported: Dict[str, Tuple[str, str]] = SUPPORTED
                         ) -> None:
    """Raise a readable error when a stack package has the wrong version.

    Args:
        supported: Package name to ``(min, max_exclusive)`` versions.

    Raises:
        ImportError: naming the package, the version found and the range
            wanted, with the command that installs the verified stack.
    """
    import importlib

    for name, (low, high) in supported.items():
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            raise ImportError(
                f'hdr_mm needs {name}>={low},<{high} but it cannot be '
                f'imported ({e}). Install the verified stack with '
                '`bash tools/setup_env.sh`.') from e
        found = module.__version__
        if not digit_version(low) <= digit_version(found) < digit_version(
                high):
            raise ImportError(
                f'hdr_mm needs {name}>={low},<{high} but found {name}=='
                f'{found}. Install the verified stack with '
                '`bash tools/setup_env.sh`.')
