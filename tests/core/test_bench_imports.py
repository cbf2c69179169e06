"""The benchmarks are run by hand, not by the suite: this keeps them importable (a refactor
that breaks one fails here rather than on the day somebody measures)."""

import importlib

import pytest


@pytest.mark.parametrize("module", ["bench.load", "bench.sync", "bench.outbox", "bench.sales"])
def test_a_benchmark_imports(module):
    assert callable(importlib.import_module(module).main)
