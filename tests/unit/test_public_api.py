"""``import sparkwright`` names what the docs and notebooks use, each resolving on first use."""

from __future__ import annotations

import pytest

import sparkwright


@pytest.mark.parametrize("name", [n for n in sparkwright.__all__ if n != "__version__"])
def test_every_exported_name_resolves_to_its_module_object(name):
    obj = getattr(sparkwright, name)
    assert getattr(obj, "__name__", name) == name


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no attribute 'fit_everything'"):
        sparkwright.fit_everything  # noqa: B018
