"""Whole-run log capture for tests/test_log_canary.py: every log record of the test run goes to one file.

Hooked into pytest from tests/conftest.py. The levels mirror production (root at INFO, SpiffWorkflow at
WARNING as ``create_app`` and the scheduler set it); Tsunagu's own loggers are captured down to DEBUG,
since they must never carry personal data at any level. The canary test is moved to the end of the run
so that it scans what the whole suite logged.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest

LOG_PATH = pytest.StashKey[Path]()
CANARY_MODULE = "tests/test_log_canary.py"
_handler: logging.Handler | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _handler  # noqa: PLW0603
    fd, name = tempfile.mkstemp(prefix="tsunagu-test-run-", suffix=".log")
    os.close(fd)
    path = Path(name)
    config.stash[LOG_PATH] = path
    _handler = logging.FileHandler(path, encoding="utf-8")
    _handler.setLevel(logging.DEBUG)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(_handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.getLogger("tsunagu").setLevel(logging.DEBUG)
    for noisy in ("SpiffWorkflow", "spiff"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The canary test runs last, after everything else has logged."""
    items.sort(key=lambda item: item.nodeid.startswith(CANARY_MODULE))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
    path = config.stash.get(LOG_PATH, None)
    if path is not None and not os.environ.get("TSUNAGU_KEEP_TEST_LOG"):
        path.unlink(missing_ok=True)


def captured(config: pytest.Config) -> str:
    if _handler is not None:
        _handler.flush()
    return config.stash[LOG_PATH].read_text(encoding="utf-8", errors="replace")
