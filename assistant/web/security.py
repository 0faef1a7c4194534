"""The HTTP surface made safe for the open web: who may call, from where, how much, how big.

Three layers around the app, outermost first (``install``):

``Gate``
    Every response: ``X-Content-Type-Options: nosniff`` and, unless it sets its own policy (as
    ``/embed`` does, for the sites that may frame the widget), a CSP ``frame-ancestors 'self'``:
    no other site may frame the web app (the advisor's desk) and trick a click on it.
    Every request: the ``Host`` header must be one of ``ASSISTANT_ALLOWED_HOSTS`` (a page on
    another site that rebinds its DNS name to 127.0.0.1 still sends its own name, so a local
    deployment cannot be driven from it). On the routes that answer (``/api/``, ``/v1/``,
    ``/embed/chat``) a browser's ``Origin`` must be this server's own or one of
    ``ASSISTANT_ALLOWED_ORIGINS``; ``/embed/chat``, the widget page's door, takes only its own.
    Requests without an ``Origin`` (servers, curl) are not browsers' and pass to the key check.
    The web app's own calls (``/gradio_api/``, POST) take a browser's only from its own pages.
``CORSMiddleware`` (Starlette's)
    Adds the CORS headers for the allowed origins, so browser code on those sites can read
    answers and refusals alike (``Retry-After`` included).
``Doorman``
    On ``/api/`` and ``/v1/``: the API key when ``ASSISTANT_API_KEYS`` is set (``Authorization:
    Bearer``, compared in constant time with every key). On all answering routes: the body size,
    refused with 413 from ``Content-Length`` before a byte is read, or as soon as a chunked body
    passes the limit. It names the client for the rate limit: its key when it sent a valid one,
    else its address (from ``X-Forwarded-For`` only when the peer is a trusted proxy).

``RateLimits`` is a dependency of the answering routes: each client gets ``ASSISTANT_RATE_LIMIT``
(moving windows in memory, several per client), 429 with ``Retry-After``. The web app's answers
(the investor's chat, the advisor's drafts) count in the same bucket by address: Gradio's API
reaches them without a key, as the page itself does.

The widget's route needs no key, by design: a page on the open web cannot keep a secret, so its
visitors are anonymous and bounded only by the per-address limit. A script can imitate a browser
(an ``Origin`` header is easy to forge); it then gets exactly what a visitor of the widget gets.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import limits
from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings, is_address
from .refusals import NOT_ALLOWED, NOT_FOUND, NOT_SERVED, Disclosure, Refusal, response

log = logging.getLogger(__name__)
KEYED = ("/api/", "/v1/")  # the developer API: keys apply when set
WIDGET_DOOR = "/embed/chat"  # the widget page's own route: same origin only, no key
PAGE_API = "/gradio_api/"  # the web app's own calls (Gradio's queue): same origin only, no key
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _same_origin(origin: str, host: str) -> bool:
    return urlsplit(origin).netloc.lower() == host.lower() and origin != "null"


def answering(path: str) -> bool:
    return path.startswith(KEYED) or path == WIDGET_DOOR


def page_call(path: str) -> bool:
    return path.startswith(PAGE_API)


@dataclass(frozen=True)
class Policy:
    hosts: frozenset[str]
    origins: frozenset[str]
    keys: tuple[bytes, ...]
    proxies: tuple[Network, ...]
    max_body: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            hosts=frozenset(settings.hosts),
            origins=frozenset(settings.origins),
            keys=tuple(k.encode() for k in settings.accepted_keys),
            proxies=settings.proxies,
            max_body=settings.max_body_kb * 1024,
        )

    # -- the facts each layer asks ---------------------------------------------------------

    def host_allowed(self, host: str) -> bool:
        name = host_name(host)
        return "*" in self.hosts or name in self.hosts or name.strip("[]") in self.hosts

    def origin_allowed(self, origin: str, host: str, path: str) -> bool:
        same = _same_origin(origin, host)
        if path == WIDGET_DOOR:
            return same
        return same or "*" in self.origins or origin.lower() in self.origins

    def key_index(self, authorization: str | None) -> int | None:
        """Which configured key the header carries (None: none or a wrong one), in constant
        time: every key is compared, whatever matched before."""
        scheme, _, token = (authorization or "").partition(" ")
        presented = token.strip().encode() if scheme.lower() == "bearer" else b""
        found = None
        for index, key in enumerate(self.keys):
            if hmac.compare_digest(presented, key):
                found = index
        return found if presented else None

    def client(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The client's address: the peer's, or behind trusted proxies the nearest untrusted
        address in ``X-Forwarded-For`` (read from the right: only proxies we trust appended)."""
        if not peer:
            return "unknown"
        if not self._trusted(peer):
            return peer
        chain = [a.strip() for value in forwarded_for for a in value.split(",") if a.strip()]
        for address in reversed(chain):
            if not is_address(address):
                break  # garbage from a hop we cannot vouch for: stop believing the chain
            if not self._trusted(address):
                return address
            peer = address
        return peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)


def host_name(host: str) -> str:
    """The name part of a ``Host`` header: no port; an IPv6 literal keeps its brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _refuse(
    scope: Scope,
    send: Send,
    disclosure: Disclosure,
    status: int,
    sentence: str,
    headers: dict[str, str] | None = None,
) -> None:
    reply = response(status, sentence, await disclosure.aget(), headers, path=scope["path"])
    await send({"type": "http.response.start", "status": status, "headers": reply.raw_headers})
    await send({"type": "http.response.body", "body": reply.body})


# Every response unless it says otherwise: no sniffing a type, no framing by another site.
DEFAULT_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
)


def _with_defaults(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            raw = list(message.get("headers", []))
            present = {name.lower() for name, _ in raw}
            raw += [(name, value) for name, value in DEFAULT_HEADERS if name not in present]
            message = {**message, "headers": raw}
        await send(message)

    return sending


def _bare(body: bytes) -> bool:
    """Whether ``body`` is a bare FastAPI refusal (``{"detail": "..."}``), as Gradio's router and
    routes send them."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and set(data) == {"detail"} and isinstance(data["detail"], str)


def _bare_sentence(status: int, body: bytes) -> str:
    if status == 404:
        return NOT_FOUND
    if status == 405:
        return NOT_ALLOWED
    if status == 413:  # our own sentence, from the body bound (``_bounded``)
        return str(json.loads(body)["detail"])
    return NOT_SERVED


def _in_our_shape(scope: Scope, send: Send, disclosure: Disclosure) -> Send:
    """The web app's own bare refusals in our shape, with the sentence and the disclosure,
    like every other refusal: a 404 (Gradio's router, under every path the routes leave to it),
    a 405 (its routes, a method they do not take), a 413 (the body bound, raised inside its
    routes) and, on a page or file fetched with GET, a 403 (Gradio's "File not allowed")."""
    held: list[Message] = []
    fetched = scope.get("method") in ("GET", "HEAD")

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and (
            message["status"] in (404, 405, 413) or (message["status"] == 403 and fetched)
        ):
            held.append(message)  # wait for the body: only a bare one is replaced
            return
        if held and message["type"] == "http.response.body":
            held.append(message)
            if message.get("more_body", False):
                return
            status = held[0]["status"]
            body = b"".join(m.get("body", b"") for m in held[1:])
            if _bare(body):
                allow = Headers(raw=held[0].get("headers", [])).get("allow")
                await _refuse(
                    scope,
                    send,
                    disclosure,
                    status,
                    _bare_sentence(status, body),
                    {"Allow": allow} if allow else None,
                )
            else:
                for kept in held:
                    await send(kept)
            held.clear()
            return
        await send(message)

    return sending


def _as_get(scope: Scope, send: Send) -> tuple[Scope, Send]:
    """HEAD answered as GET, without the body (RFC 9110, 9.3.2): FastAPI's routes take GET
    alone, and monitors and link checkers ask HEAD."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return {**scope, "method": "GET"}, sending


class Gate:
    """Host header on every request; the browser's origin on the answering routes."""

    def __init__(self, app: ASGIApp, policy: Policy, disclosure: Disclosure) -> None:
        self.app, self.policy, self.disclosure = app, policy, disclosure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            send = _with_defaults(send)
            if scope["method"] == "HEAD":
                scope, send = _as_get(scope, send)
            send = _in_our_shape(scope, send, self.disclosure)
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self.policy.host_allowed(host):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await _refuse(
                scope,
                send,
                self.disclosure,
                400,
                f"This server does not answer for the host name {host[:100]!r}: open it by "
                "one of its own names (the operator lists them in ASSISTANT_ALLOWED_HOSTS).",
            )
            return
        origin = headers.get("origin")
        path = scope["path"]
        if scope["type"] == "http" and answering(path) and origin is not None:
            if not self.policy.origin_allowed(origin, host, path):
                where = "this server's own pages" if path == WIDGET_DOOR else "allowed sites"
                await _refuse(
                    scope,
                    send,
                    self.disclosure,
                    403,
                    f"Pages on {origin[:100]!r} may not call this route; only {where} may "
                    "(the operator lists them in ASSISTANT_ALLOWED_ORIGINS).",
                )
                return
        elif (
            scope["type"] == "http"
            and path.startswith(PAGE_API)
            and scope["method"] == "POST"
            and origin is not None
            and not _same_origin(origin, host)
        ):
            await _refuse(
                scope,
                send,
                self.disclosure,
                403,
                f"Pages on {origin[:100]!r} may not drive this web app; other sites embed the "
                "widget, and programs call /api/chat or /v1/chat/completions.",
            )
            return
        elif scope["type"] == "http" and path == WIDGET_DOOR and scope["method"] != "OPTIONS":
            await _refuse(
                scope,
                send,
                self.disclosure,
                403,
                "This route is the widget page's own; programs call /api/chat or "
                "/v1/chat/completions instead.",
            )
            return
        await self.app(scope, receive, send)


async def _past_its_start(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """``app`` on Gradio's own calls, where an error raised once its response has begun is
    told in one line. Gradio raises its 404 for an unknown queue session inside an event stream
    it already started (``/gradio_api/queue/data?session_hash=x``): nothing can answer it any
    more, and left to run up it wrote two ERROR tracebacks a request, at any client's will."""
    started = False

    async def sending(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, sending)
    except Exception as error:
        if not started:
            raise
        cause = error.__cause__ or error
        log.warning(
            "%s %s ended after its response began: %r", scope["method"], scope["path"], cause
        )


class Doorman:
    """API keys on /api and /v1, body size on the answering routes, the client's name."""

    def __init__(self, app: ASGIApp, policy: Policy, disclosure: Disclosure) -> None:
        self.app, self.policy, self.disclosure = app, policy, disclosure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (answering(scope["path"]) or page_call(scope["path"])):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.policy.max_body
        if page_call(scope["path"]):  # bounded too, but no key, and Gradio names its clients
            if not await self._too_large(scope, send, headers):
                await _past_its_start(self.app, scope, _bounded(receive, limit), send)
            return
        key = self.policy.key_index(headers.get("authorization"))
        keyed = scope["path"].startswith(KEYED) and scope["method"] != "OPTIONS"
        if self.policy.keys and keyed and key is None:
            wrong = "was not accepted" if headers.get("authorization") else "is missing"
            await _refuse(
                scope,
                send,
                self.disclosure,
                401,
                f"The API key {wrong}: send 'Authorization: Bearer <key>' with a key the "
                "operator gave you (ASSISTANT_API_KEYS).",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        if await self._too_large(scope, send, headers):
            return
        peer = scope["client"][0] if scope.get("client") else None
        client = self.policy.client(peer, headers.getlist("x-forwarded-for"))
        identity = f"key{key}" if key is not None and self.policy.keys else f"ip:{client}"
        scope.setdefault("state", {})["client"] = identity
        await self.app(scope, _bounded(receive, limit), send)

    async def _too_large(self, scope: Scope, send: Send, headers: Headers) -> bool:
        """Refuses a body its Content-Length says is past the limit, before it is read."""
        length = headers.get("content-length")
        if length is None or not length.isdigit() or int(length) <= self.policy.max_body:
            return False
        await _refuse(
            scope, send, self.disclosure, 413, _too_large(int(length), self.policy.max_body)
        )
        return True


def _too_large(size: int, limit: int) -> str:
    return (
        f"The request body is {size} bytes; the limit is {limit} bytes "
        f"({limit // 1024} KB, ASSISTANT_MAX_BODY_KB): send a shorter question or history."
    )


def _bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that refuses a body (chunked, or lying about its length) past the limit."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # An HTTPException: FastAPI passes it through its body parsing untouched.
                raise Refusal(413, _too_large(seen, limit))
        return message

    return bounded


class RateLimits:
    """``ASSISTANT_RATE_LIMIT`` per client and bucket: moving windows in memory.

    A window holds the times of one client's requests in the last period of one limit; a
    request passes when every window has room, and counts in all of them. (The ``limits``
    library's memory storage, used before, started a timer thread for nearly every request to
    expire old entries: about a millisecond of CPU a request. Here a window drops its old
    entries when it is next looked at, and the windows of clients gone quiet go at a sweep
    once per longest period.)
    """

    def __init__(
        self,
        spec: str,
        clock: Callable[[], float] = time.monotonic,
        policy: Policy | None = None,
    ) -> None:
        self.items = limits.parse_many(spec)
        self._policy = policy
        self._periods = [item.get_expiry() for item in self.items]
        self._clock = clock
        self._windows: dict[tuple[int, str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self._longest = max(self._periods, default=0)
        self._sweep_at = clock() + self._longest

    def hit(self, bucket: str, client: str) -> None:
        """Count one request, or raise a 429 refusal saying when to come back."""
        now = self._clock()
        with self._lock:
            if now >= self._sweep_at:
                self._sweep(now)
            windows = []
            for n, period in enumerate(self._periods):
                window = self._windows.setdefault((n, bucket, client), deque())
                while window and window[0] <= now - period:
                    window.popleft()
                windows.append(window)
            # Test every window before counting any: a refused request uses up none of them.
            over = [
                (item, window[-item.amount] + period - now)
                for item, period, window in zip(self.items, self._periods, windows, strict=True)
                if len(window) >= item.amount
            ]
            if not over:
                for window in windows:
                    window.append(now)
                return
        seconds = max(1, math.ceil(max(wait for _, wait in over)))
        raise Refusal(
            429,
            f"Too many requests from this client: the limit is {over[0][0]} "
            f"(ASSISTANT_RATE_LIMIT). Try again in {seconds} s.",
            {"Retry-After": str(seconds)},
        )

    def address(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The name an anonymous client is counted by: its address (behind trusted proxies,
        from ``X-Forwarded-For``), as ``Doorman`` names it for the routes."""
        if self._policy is None:
            return f"ip:{peer or 'unknown'}"
        return f"ip:{self._policy.client(peer, forwarded_for)}"

    def _sweep(self, now: float) -> None:
        """Forget the windows whose last request is older than their period."""
        self._windows = {
            key: window
            for key, window in self._windows.items()
            if window and window[-1] > now - self._periods[key[0]]
        }
        self._sweep_at = now + self._longest

    def dependency(self, bucket: str) -> Callable[[Request], Awaitable[None]]:
        """A FastAPI dependency that counts a request against ``bucket``."""

        async def limited(request: Request) -> None:
            client = request.state.client if hasattr(request.state, "client") else None
            if client is None:
                client = f"ip:{request.client.host if request.client else 'unknown'}"
            self.hit(bucket, client)

        return limited


def install(app: FastAPI, settings: Settings, disclosure: Disclosure) -> RateLimits:
    """Add the three layers to ``app`` (see the module docstring); returns the rate limits."""
    policy = Policy.from_settings(settings)
    if not _loopback(settings.host) and "*" not in policy.hosts:
        log.warning(
            "Serving on %s: requests are answered only for the host names %s "
            "(ASSISTANT_ALLOWED_HOSTS); add the names clients use to reach this server.",
            settings.host,
            ", ".join(sorted(policy.hosts)),
        )
    # Starlette runs the middleware added last first: Gate, then CORS, then Doorman.
    app.add_middleware(Doorman, policy=policy, disclosure=disclosure)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if "*" in policy.origins else sorted(policy.origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    app.add_middleware(Gate, policy=policy, disclosure=disclosure)
    return RateLimits(settings.rate_limit, policy=policy)
