"""Nothing outside the datastore can be read through a URL; tokens, hosts, methods, headers.

Requests are sent with ``http.client`` so paths reach the server exactly as written (a browser
or an HTTP library would normalise ``..`` away before sending).
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from .conftest import Tab, task_id

SECRETS = ("root:x:0:0", "SQLite format", "import ", "def ", "xxh3", "\x00")


def get(base: str, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=bool(headers and "Host" in headers), skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read().decode("utf-8", errors="replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


TRAVERSALS = [
    "/..%2f..%2fetc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e%2f%2e%2e%2fmetadata.db",
    "/TrainFlow/1/../../x",
    "/TrainFlow/1/../../../../etc/passwd",
    "/TrainFlow/..%2f..%2f..%2fmetadata.db",
    "/TrainFlow/1/train/..%2f..%2f..%2f..%2fmetadata.db",
    "/TrainFlow/1/%2e%2e/1/x",
    "/TrainFlow%00/1",
    "/TrainFlow/1%00",
    "/TrainFlow/1/train%00/2",
    "/etc/passwd",
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/_hw/static/..%2fapp.py",
    "/_hw/static/../app.py",
    "/_hw/static/%2e%2e%2fsecurity.py",
    "/_hw/log/TrainFlow/1/train/2/0/..%2f..%2f..%2f..%2f..%2fmetadata.db",
    "/_hw/log/TrainFlow/1/train/2/0/stdout%00",
    "/_hw/log/..%2f..%2f/1/train/2/0/stdout",
    "/_hw/log/TrainFlow/1/train/2/..%2f0/stdout",
    "/_hw/log/TrainFlow/1/train/2/0/stdout?offset=-5",
    "/_hw/card/TrainFlow/1/end/7/0/..%2findex.json",
    "/_hw/card/TrainFlow/1/end/7/..%2f..%2f..%2f..%2f/0",
    "/_hw/card/TrainFlow/1/end/7/0/0%00",
    "/TrainFlow/1/train/2?attempt=../../x",
    "/TrainFlow/1/train/2/..%2f..%2f..%2fmetadata",
    "/TrainFlow?page=../../etc",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_attempts_never_return_files(server: Any, path: str) -> None:
    status, headers, body = get(server.url, path)
    if status == 200:  # only a page that ignored the bad value may answer normally
        assert path.startswith(("/TrainFlow?", "/TrainFlow/1/train/2?")), path
    else:
        assert status in (400, 404), (path, status)
    for secret in SECRETS:
        assert secret not in body, (path, secret)
    assert "server-timing" in headers


def test_a_real_log_and_card_are_served(server: Any, datastore: Path) -> None:
    train = task_id(datastore, "TrainFlow", 1, "train")
    status, headers, body = get(server.url, f"/_hw/log/TrainFlow/1/train/{train}/0/stdout?raw=1")
    assert status == 200 and "epoch 1/5" in body
    assert headers["content-type"].startswith("text/plain")
    end = task_id(datastore, "TrainFlow", 1, "end")
    status, headers, body = get(server.url, f"/_hw/card/TrainFlow/1/end/{end}/0/0")
    assert status == 200 and "Probe card" in body
    csp = headers["content-security-policy"]
    assert "sandbox allow-scripts" in csp and "connect-src 'none'" in csp and "allow-same-origin" not in csp
    status, _, body = get(server.url, f"/_hw/card/TrainFlow/1/end/{end}/0/1")
    assert status == 404 and "missing" in body


def test_pages_carry_a_strict_policy_and_server_timing(server: Any) -> None:
    for path in ("/", "/TrainFlow", "/TrainFlow/1", "/TrainFlow/1/train", "/NoFlow"):
        status, headers, _ = get(server.url, path)
        assert re.fullmatch(r"app;dur=\d+\.\d", headers["server-timing"]), headers["server-timing"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_the_ui_is_read_only(server: Any) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = get(server.url, "/TrainFlow/1", method=method, headers={"Content-Length": "0"})
        assert status == 405
        assert headers["allow"] == "GET, HEAD"


def test_requests_for_other_host_names_are_refused(server: Any) -> None:
    """A page elsewhere cannot read the UI by pointing its own domain at 127.0.0.1."""
    status, _, body = get(server.url, "/", headers={"Host": "attacker.example:80"})
    assert status == 400 and "TrainFlow" not in body
    port = urlsplit(server.url).port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert get(server.url, "/", headers={"Host": host})[0] == 200


# -- token mode ---------------------------------------------------------------------------------

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def token_server(datastore: Path) -> Iterator[Any]:
    from headwater.ui.server import start_in_thread

    running = start_in_thread(datastore, token=TOKEN)
    yield running
    running.stop()


def test_token_mode_refuses_requests_without_the_token(token_server: Any) -> None:
    status, _, body = get(token_server.url, "/TrainFlow")
    assert status == 401 and "TrainFlow/1" not in body and "token" in body
    assert get(token_server.url, "/TrainFlow?token=wrong")[0] == 401
    wrong = f"headwater_ui_token_{token_server.port}=wrong"
    assert get(token_server.url, "/TrainFlow", headers={"Cookie": wrong})[0] == 401
    status, headers, _ = get(token_server.url, f"/TrainFlow?status=failed&token={TOKEN}")
    assert status == 303 and headers["location"] == "/TrainFlow?status=failed"
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
    cookie = headers["set-cookie"].split(";")[0]
    assert get(token_server.url, "/TrainFlow", headers={"Cookie": cookie})[0] == 200


def test_token_mode_in_a_browser(browser: Any, token_server: Any) -> None:
    context = browser.new_context()
    try:
        tab = Tab(context.new_page(), token_server.url)
        response = tab.open("/")
        assert response.status == 401
        tab.open(f"/?token={TOKEN}")
        expect(tab.page).to_have_url(token_server.url + "/")  # the token left the address bar
        expect(tab.page.locator("table.flows")).to_contain_text("TrainFlow")
        tab.page.get_by_role("link", name="TrainFlow", exact=True).click()
        expect(tab.page.locator("table.runs tbody tr")).to_have_count(2)
    finally:
        context.close()
