"""Helpers for end-to-end tests and benchmarks that drive Sentri only over HTTP and its CLI:
a fixture website and a callback sink (sites), a real Sentri server process (server), and
test files in the test format (testfiles)."""

from tests.support.server import CLIError, SentriProcess, free_port, http_session
from tests.support.sites import CallbackSink, FixtureSite, HoldSite, StaticSite, TricklingReceiver
from tests.support.testfiles import failing_test, make_tests, page_test, wait_test, write_tests

__all__ = [
    "CLIError",
    "CallbackSink",
    "FixtureSite",
    "HoldSite",
    "SentriProcess",
    "StaticSite",
    "TricklingReceiver",
    "failing_test",
    "free_port",
    "http_session",
    "make_tests",
    "page_test",
    "wait_test",
    "write_tests",
]
