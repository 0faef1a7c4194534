"""A fuzzing pass over ``POST /api/chat`` and ``POST /v1/chat/completions``: schemathesis
generates bodies from the app's own OpenAPI schema, valid and invalid (wrong types, missing
fields, strings past the bounds), and no response may be a 5xx, carry a traceback, or refuse
without the error sentence and the disclosure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
import schemathesis.specs.openapi.schemas  # (see below)
from schemathesis import GenerationMode

from assistant.factory import build_engine
from assistant.web import Services, create_app
from tests.conftest import settings_for

# schemathesis is a pytest plugin, so pytest rewrites its modules as they are imported, with
# ast.parse: imported here, at collection, not later beside threads that parse too (CPython
# 3.11.7 raises "AST constructor recursion depth mismatch" when two threads parse at once).
EXAMPLES = 30  # per route and mode; deterministic, so a failure reproduces


@pytest.fixture(scope="module")
def api_schema(seeded, tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    _, store = seeded
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    settings = settings_for(tmp, rate_limit="100000/minute")
    app = create_app(settings, Services(build_engine(settings, store=store)))
    config = schemathesis.Config()
    config.projects.default.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=EXAMPLES,
        deterministic=True,
        database="none",
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema").include(
    method="POST", path_regex=r"^/(api/chat|v1/chat/completions)$"
)


@schema.parametrize()
def test_fuzzed_requests_get_an_answer_or_a_clear_refusal(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    if response.status_code >= 400:
        body = json.loads(response.text)
        error = body["error"]["message"] if case.path.startswith("/v1/") else body["error"]
        assert isinstance(error, str) and error.endswith((".", "。")), body
        assert "投资有风险" in body["disclosure"]
    elif "text/event-stream" in response.headers.get("content-type", [""])[0]:
        assert "风险提示" in response.text  # the disclosure travels with every streamed answer
    else:
        assert "风险提示" in response.text
