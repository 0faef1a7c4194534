"""The lean stream reader: SSE bytes as a model server sends them, split wherever a read
ends, give the same chunks and failures as the ``openai`` client's own stream."""

from __future__ import annotations

import contextlib
import json

import httpx2
import openai
import pytest

from assistant import llmstream
from assistant.llmstream import Chunk, Decoder

REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")


def event(payload: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def content(text: str, finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    return event({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


BODY = (
    content("算力")
    + b": keep-alive\n\n"
    + content("需求[1]。")
    + content("", "stop")
    + event({"choices": [], "usage": {"prompt_tokens": 9, "prompt_cache_hit_tokens": 4}})
    + b"data: [DONE]\n\n"
)


def decode(body: bytes, size: int) -> tuple[list[Chunk], bool]:
    decoder = Decoder(REQUEST)
    chunks: list[Chunk] = []
    for start in range(0, len(body), size):
        chunks += decoder.feed(body[start : start + size])
    return chunks, decoder.done


@pytest.mark.parametrize("size", [1, 2, 7, 64, 100_000])
def test_chunks_come_out_whole_wherever_the_reads_split_the_body(size: int) -> None:
    chunks, done = decode(BODY, size)
    assert done
    assert "".join(c.content for c in chunks) == "算力需求[1]。"
    assert [c.finish for c in chunks if c.finish] == ["stop"]
    usage = [c.usage for c in chunks if c.usage]
    assert usage == [{"prompt_tokens": 9, "prompt_cache_hit_tokens": 4}]


@pytest.mark.parametrize("size", [1, 3, 100_000])
def test_crlf_and_cr_line_ends_are_read_as_one_line_end(size: int) -> None:
    crlf = BODY.replace(b"\n", b"\r\n")
    cr = BODY.replace(b"\n", b"\r")
    for body in (crlf, cr):
        chunks, done = decode(body, size)
        assert done and "".join(c.content for c in chunks) == "算力需求[1]。"


def test_nothing_after_done_is_read() -> None:
    chunks, done = decode(BODY + content("多余"), 100_000)
    assert done and "多余" not in "".join(c.content for c in chunks)


def test_a_body_that_ends_without_done_ends_quietly_and_drops_a_cut_event() -> None:
    body = content("一半") + b'data: {"choices": [{"delta": {"content": "lost"'
    chunks, done = decode(body, 100_000)
    assert not done and [c.content for c in chunks] == ["一半"]


def test_a_payload_that_is_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Decoder(REQUEST).feed(content("ok") + b'data: {"choices": [{"delta": {"co\n\n')


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"choices": "none"},
        {"choices": [{"delta": "text"}]},
        {"choices": [{"delta": {"content": 5}}]},
        {"choices": [], "usage": 12},
    ],
)
def test_a_payload_that_is_not_a_chunk_is_a_value_error(payload: object) -> None:
    with pytest.raises(ValueError):
        Decoder(REQUEST).feed(b"data: " + json.dumps(payload).encode() + b"\n\n")


def test_an_error_object_in_the_stream_raises_the_clients_api_error() -> None:
    body = event({"error": {"message": "Service overloaded", "type": "server_error"}})
    with pytest.raises(openai.APIError, match="Service overloaded") as raised:
        Decoder(REQUEST).feed(content("先") + body)
    assert raised.value.request is REQUEST


def test_reasoning_counts_as_activity_but_is_not_content() -> None:
    body = event({"choices": [{"delta": {"content": None, "reasoning_content": "想"}}]})
    [chunk] = Decoder(REQUEST).feed(body)
    assert chunk.reasoning and chunk.content == ""


def test_a_data_field_over_several_lines_is_joined() -> None:
    body = b'data: {"choices": [{"delta":\ndata: {"content": "x"}}]}\n\n'
    [chunk] = Decoder(REQUEST).feed(body)
    assert chunk.content == "x"


def test_streams_are_read_less_often_the_more_of_them_are_read_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A count of its own: other tests' threads may still be reading streams, and ending them,
    # while this one counts (CI once saw one end in between).
    streams = llmstream._Streams()
    monkeypatch.setattr(llmstream, "_streams", streams)

    def pace_with(n: int) -> float:
        with contextlib.ExitStack() as stack:
            for _ in range(n):
                stack.enter_context(streams.one())
            return llmstream.pace()

    assert pace_with(1) == llmstream.FASTEST  # a stream read alone is read often
    assert pace_with(120) == pytest.approx(120 / llmstream.READS_PER_SECOND)
    assert pace_with(1000) == llmstream.SLOWEST  # but never less often than this
    assert streams.count == 0  # a stream that ends is no longer counted
