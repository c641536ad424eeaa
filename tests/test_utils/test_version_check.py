import pytest

from hdr_mm.utils import check_stack_versions


def test_installed_stack_is_supported():
    check_stack_versions()


def test_wrong_version_is_named():
    with pytest.raises(ImportError, match=r'mmcv>=9.0.0,<10.0.0.*found'):
        check_stack_versions({'mmcv': ('9.0.0', '10.0.0')})


def test_missing_package_is_named():
    with pytest.raises(ImportError, match='no_such_pkg_hdr'):
        check_stack_versions({'no_such_pkg_hdr': ('1.0', '2.0')})
