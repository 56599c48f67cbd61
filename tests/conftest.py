from __future__ import annotations

import numpy as np
import pytest

from tests.models import data


@pytest.fixture
def batch():
    return data()


def snapshot(obj):
    """(object, bytes) of every array reachable as an attribute or a params-dict entry."""
    out = {}
    for name, value in vars(obj).items():
        if isinstance(value, np.ndarray):
            out[name] = (value, value.tobytes())
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, np.ndarray):
                    out[f"{name}.{key}"] = (item, item.tobytes())
    return out


def assert_unchanged(obj, before):
    after = snapshot(obj)
    assert after.keys() == before.keys()
    for key, (array, data_bytes) in before.items():
        assert after[key][0] is array, f"{key} was rebound"
        assert array.tobytes() == data_bytes, f"{key} changed"


pytest_plugins = ["pytester"]
