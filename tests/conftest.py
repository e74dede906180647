import os
import sys

# Run against the working tree even when the package is not installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


import pytest  # noqa: E402


@pytest.fixture
def patch_op():
    """Replace a field of a (frozen) op record for one test; restored afterwards.

    Records are frozen so the library cannot patch them; tests that prove a checker
    can fail break a rule on purpose, and need this explicit way around it.
    """
    saved = []

    def patch(op, field, value):
        saved.append((op, field, getattr(op, field)))
        object.__setattr__(op, field, value)

    yield patch
    for op, field, value in reversed(saved):
        object.__setattr__(op, field, value)
