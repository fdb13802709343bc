"""The shared fixtures (tests/conftest.py) for this package's tests."""

from tests.conftest import *  # noqa: F403
