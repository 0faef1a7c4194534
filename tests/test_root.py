"""What answers at ``/`` while the Gradio app is built, and after (``python app.py``'s start)."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from assistant.factory import build_engine
from assistant.web import Services, create_app, root, ui  # Gradio imported as other tests do
from tests.conftest import settings_for


def test_the_api_serves_while_the_web_app_is_built_then_the_app_takes_over(
    seeded, tmp_path: Path
) -> None:
    _, store = seeded
    settings = settings_for(tmp_path)
    services = Services(build_engine(settings, store=store))
    app = create_app(settings, services, ui="none")
    # As create_app(ui="later") builds it, but held until the test has seen the starting state.
    release = threading.Event()
    built = threading.Event()

    def build() -> ASGIApp:
        release.wait(60)
        gradio = ui.built(app, services, max_question_chars=settings.max_question_chars)
        built.set()
        return gradio

    root.mount_later(app, build, frozenset({"api", "v1", "healthz", "widget.js", "embed"}))

    with TestClient(app) as client:
        starting = client.get("/")
        assert starting.status_code == 200
        assert "正在启动" in starting.text and 'http-equiv="refresh"' in starting.text
        pending = client.get("/gradio_api/info")
        assert pending.status_code == 503 and pending.headers["retry-after"] == "1"
        assert "投资有风险" in pending.json()["disclosure"]  # a refusal like any other
        # The API needs no Gradio: answered with its disclosure, and its refusals are its own.
        answer = client.post("/api/chat", json={"message": "什么是杰文斯悖论？"}).json()
        assert "投资有风险" in answer["disclosure"]
        assert set(client.get("/api/nothing").json()) == {"error", "disclosure"}

        release.set()
        assert built.wait(60)
        for _ in range(200):  # the swap follows the build on the event loop
            page = client.get("/")
            if "正在启动" not in page.text:
                break
            threading.Event().wait(0.05)
        assert page.status_code == 200 and "gradio_config" in page.text
        assert client.get("/gradio_api/info").status_code == 200
        assert set(client.get("/api/nothing").json()) == {"error", "disclosure"}
