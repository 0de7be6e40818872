"""What keeps the UI read-only and its pages private: names, tokens, hosts and headers.

Every path segment of a URL is checked here before anything reads the datastore: flow and
step names must be Python identifiers, run and task ids and attempts plain digits. A URL's
text is never joined into a file path; files are found from validated parts only, through the
datastore (``Datastore.read_log_bytes``, ``Datastore.cards``), which alone knows its layout.

``Guard`` is the ASGI middleware in front of every route:

* the ``Host`` header must name this machine when the server listens on a loopback address
  (a web page elsewhere cannot read the UI through DNS rebinding);
* with a token (required to listen on any other interface), a request carries it once as
  ``?token=``; the server answers with a cookie and a redirect to the same URL without it;
* only GET and HEAD are served, and every answer says ``nosniff`` and ``no-referrer``.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

DIGITS = re.compile(r"[0-9]{1,18}")
COOKIE = "headwater_ui_token"

# The UI's own pages: scripts and styles from this server only, frames from this server only.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-src 'self'; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# A card's HTML: it may run its own inline script and show inline images, nothing more. It is
# sandboxed even when opened directly, so it never shares the UI's origin or cookies.
CARD_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src data: blob:; font-src data:; media-src data: blob:; connect-src 'none'; "
            "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox allow-scripts")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BadSegment(ValueError):
    """A URL segment that cannot name a flow, run, step, task or attempt."""

    def __init__(self, kind: str, text: str) -> None:
        self.kind, self.text = kind, text
        shown = text if len(text) <= 60 else text[:57] + "..."
        super().__init__(f"{shown!r} is not a valid {kind}")


def name(kind: str, text: str) -> str:
    """A flow, step or artifact name (a Python identifier: no dot, slash or NUL), or ``BadSegment``."""
    if not (0 < len(text) <= 200 and text.isidentifier()):
        raise BadSegment(f"{kind} name", text)
    return text


def number(kind: str, text: str) -> int:
    """A run id, task id or attempt, or ``BadSegment``."""
    if not DIGITS.fullmatch(text):
        raise BadSegment(kind, text)
    return int(text)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as given to ``--host``) only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class Guard:
    """ASGI middleware: Host check (no token) or token check, methods, and common headers."""

    def __init__(self, app: ASGIApp, *, token: str | None, bound_host: str) -> None:
        self.app = app
        self.token = token
        self.hosts = {"localhost", "127.0.0.1", "::1", bound_host.strip("[]")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, "The Headwater UI is read-only: only GET requests are served.\n",
                         [(b"allow", b"GET, HEAD")])
            return
        if self.token is None:
            if _host_name(headers.get("host", "")) not in self.hosts:
                await _plain(send, 400, "This server only answers requests for localhost.\n")
                return
        else:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            cookie_name = _cookie_name(scope)
            given = next((v for k, v in query if k == "token"), None)
            if given is not None:
                if not hmac.compare_digest(given.encode(), self.token.encode()):
                    await _plain(send, 401, "Wrong token. Use the link that `headwater ui` printed.\n")
                    return
                rest = urlencode([(k, v) for k, v in query if k != "token"])
                location = scope.get("root_path", "") + scope["path"] + (f"?{rest}" if rest else "")
                cookie = f"{cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                await _plain(send, 303, "", [(b"location", _quote_path(location).encode("latin-1")),
                                             (b"set-cookie", cookie.encode("latin-1"))])
                return
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(headers.get("cookie", ""))
            except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
                pass
            sent = jar[cookie_name].value if cookie_name in jar else ""
            if not hmac.compare_digest(sent.encode(), self.token.encode()):
                await _plain(send, 401, "This Headwater UI needs a token: open the link that "
                                        "`headwater ui` printed (it ends with ?token=...).\n")
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie_name(scope: Scope) -> str:
    """One cookie per port: browsers share cookies across the ports of a host."""
    server = scope.get("server") or ("", None)
    return f"{COOKIE}_{server[1]}" if server[1] else COOKIE


def _quote_path(location: str) -> str:
    from urllib.parse import quote

    return quote(location, safe="/?=&%:@")


async def _plain(send: Send, status: int, text: str,
                 headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff"), *headers]})
    await send({"type": "http.response.body", "body": body})
