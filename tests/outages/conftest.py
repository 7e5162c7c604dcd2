"""The notice tests' small utility world (tests/notify/conftest.py), on each backend."""

from tests.notify.conftest import world  # noqa: F401  (the fixture)
