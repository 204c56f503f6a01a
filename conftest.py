"""Markers that follow from where a test lives, for the fast subset
(``pytest -m "not browser and not notebooks and not slow"``, CONTRIBUTING.md): every
notebook run by nbval is ``notebooks``, every ``tests/test_browser*.py`` test ``browser``.
Other modules mark themselves."""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
        elif item.path.name.startswith("test_browser"):
            item.add_marker(pytest.mark.browser)
