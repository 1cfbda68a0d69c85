"""Schemathesis fuzzes the live webhook from its own OpenAPI document: no 5xx, and answers match the document.

Two servers: one with a secret (fuzzed signature headers, so the signature parser sees junk) and one in
insecure mode (so generated bodies reach the JSON readers and the store). Positive and negative
(schema-violating) cases, at most ``MAX_EXAMPLES`` per operation, deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from bot.config import Settings
from bot.store import connect
from bot.webhook import OPENAPI, create_app
from tests.test_webhook import SECRET, serve

MAX_EXAMPLES = 60

schema = schemathesis.openapi.from_dict(OPENAPI)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES, deterministic=True
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def _server(tmp: Path, *, insecure: bool) -> Iterator[str]:
    store = connect(f"sqlite:///{tmp / 'fuzz.sqlite3'}")
    app = create_app(Settings(), store, secret=None if insecure else SECRET, insecure=insecure, targets=["x"])
    try:
        with serve(app) as base:
            yield base
    finally:
        store.close()


@pytest.fixture(scope="module")
def signed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server(tmp_path_factory.mktemp("signed"), insecure=False)


@pytest.fixture(scope="module")
def open_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server(tmp_path_factory.mktemp("open"), insecure=True)


@schema.parametrize()
@FUZZ
def test_signed_server_conforms(case: schemathesis.Case, signed_url: str) -> None:
    """With a secret set, fuzzed requests never get a 5xx and every answer matches the document."""
    case.call_and_validate(base_url=signed_url, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_insecure_server_conforms(case: schemathesis.Case, open_url: str) -> None:
    """In insecure mode fuzzed bodies reach the loaders and the store: still no 5xx, answers as documented."""
    case.call_and_validate(base_url=open_url, checks=CHECKS)
