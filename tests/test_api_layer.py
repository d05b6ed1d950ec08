"""Read from the source (``ast``, nothing imported): TikTok is reached only through the public API's layer.

The layer is :mod:`tiktok.client` (the public API) and the modules it is built on, which hold every Open API path
and every HTTP request to TikTok: :mod:`tiktok.api` (envelope calls), :mod:`tiktok.auth.oauth` (token and revoke),
:mod:`tiktok.posting.client` (posting endpoints), :mod:`tiktok.posting.transfer` (chunk PUTs to the upload URL) and
:mod:`tiktok.pages` (the video list's paging). Everything else, the command tree, the app, the workers and the flows,
calls those; a module outside the layer that names an endpoint or sends a request of its own is a second path, and
fails here with its file and line. The one exception is named in ELSEWHERE: a module whose requests go to a service
that is not TikTok (and which names no endpoint).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tiktok"
LAYER = {"tiktok/client.py", "tiktok/api.py", "tiktok/auth/oauth.py", "tiktok/posting/client.py",
         "tiktok/posting/transfer.py", "tiktok/pages.py"}
# Modules that send HTTP requests to services other than TikTok, and why; they may still name no Open API path.
ELSEWHERE = {"tiktok/alerts/channels.py": "signed webhooks to the person's own receivers (WEBHOOK_URLS)",
             "tiktok/setup_checks.py": "the doctor's probes of the person's media addresses and the local emulator",
             "tiktok/web/covers.py": "cover images from the URLs a video list gave (TikTok's CDN, not the Open API)"}
# An Open API path. The consent page (/v2/auth/authorize/) is a page the browser opens, not an API call: the
# settings name its address.
ENDPOINT = re.compile(r"/v2/(?!auth/authorize/)[a-z_]+/")
HTTP_VERBS = {"request", "get", "post", "put", "patch", "delete", "head", "options", "send", "urlopen"}
HTTP_MODULES = {"requests", "urllib.request", "http.client", "httpx", "urllib3", "aiohttp", "pycurl"}


@dataclass(frozen=True)
class Finding:
    where: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.what}"


def docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def receiver(node: ast.expr) -> str:
    """``a.b.c`` for the object a method is called on (empty when it is not a plain name or attribute chain)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):
        return receiver(node.func) + "()"
    return ""


def findings(source: str, where: str) -> list[Finding]:
    """Every endpoint path and every HTTP request in one module's source."""
    tree = ast.parse(source)
    docs = docstring_nodes(tree)
    flask_session = any(isinstance(n, ast.ImportFrom) and n.module == "flask" and
                        any(a.name == "session" for a in n.names) for n in ast.walk(tree))
    http_names = {alias.asname or alias.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                  for alias in n.names if alias.name in HTTP_MODULES}
    http_names |= {alias.asname or alias.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                   and n.module in HTTP_MODULES for alias in n.names}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if ENDPOINT.search(node.value):
                found.append(Finding(where, node.lineno, f"names the endpoint {ENDPOINT.search(node.value)[0]!r}"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in HTTP_VERBS:
            target = receiver(node.func.value)
            head = target.split(".")[0].removesuffix("()")
            if head in http_names or target in http_names or head == "requests":
                found.append(Finding(where, node.lineno, f"sends an HTTP request ({target}.{node.func.attr})"))
            elif re.search(r"session|http", target, re.I) and not (flask_session and target == "session"):
                found.append(Finding(where, node.lineno, f"sends an HTTP request ({target}.{node.func.attr})"))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in http_names
                and node.func.id in HTTP_VERBS):  # from requests import post; post(...)
            found.append(Finding(where, node.lineno, f"sends an HTTP request ({node.func.id})"))
    return found


def client_modules() -> list[Path]:
    """Every module of the client (the emulator is TikTok's side and imports nothing of ours)."""
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "emulator" not in p.relative_to(PACKAGE).parts]


def relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_only_the_layer_names_endpoints_or_sends_requests():
    outside = [f for path in client_modules() if relative(path) not in LAYER
               for f in findings(path.read_text(), relative(path))
               if not (relative(path) in ELSEWHERE and "HTTP request" in f.what)]
    assert outside == [], "\n".join(map(str, outside))


def test_the_modules_sending_elsewhere_do_send_and_name_no_endpoint():
    for where in ELSEWHERE:
        found = findings((PACKAGE.parent / where).read_text(), where)
        assert any("HTTP request" in f.what for f in found), f"{where} no longer sends: drop it from ELSEWHERE"
        assert not any("endpoint" in f.what for f in found), found


def test_the_reader_sees_the_layers_own_requests_and_endpoints():
    seen = {relative(p): findings(p.read_text(), relative(p)) for p in client_modules() if relative(p) in LAYER}
    requests_sent = {where for where, found in seen.items() for f in found if "HTTP request" in f.what}
    assert requests_sent == {"tiktok/api.py", "tiktok/auth/oauth.py", "tiktok/posting/transfer.py"}
    endpoints = {f.what.split("'")[1] for found in seen.values() for f in found if "endpoint" in f.what}
    assert {"/v2/oauth/", "/v2/post/", "/v2/user/", "/v2/video/"} <= endpoints


def test_the_layer_is_what_the_public_api_is_built_on():
    tree = ast.parse((PACKAGE / "client.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    layer_modules = {name.removesuffix(".py").replace("/", ".") for name in LAYER} - {"tiktok.client"}
    assert layer_modules <= imported


@pytest.mark.parametrize("source, expected", [
    ('import requests\nrequests.post(base + "/v2/post/publish/video/init/", json={})\n', 2),
    ("from requests import Session\nSession().put(url, data=b'')\n", 1),
    ("def f(svc):\n    return svc.api.call('POST', '/v2/video/list/', 'tok')\n", 1),
    ("def f(self, url):\n    return self.http_session.get(url)\n", 1),
    ("import urllib.request\nurllib.request.urlopen('https://open.tiktokapis.com')\n", 1),
    ("from requests import post\npost(url, data={})\n", 1),
    ("from flask import session\nsession.get('csrf')\n", 0),
    ('"""Calls /v2/video/list/ through the layer."""\nx = {}.get("a")\n', 0),
    ("URL = 'https://www.tiktok.com/v2/auth/authorize/'\n", 0),
], ids=["requests-post", "session-put", "raw-path-through-the-api", "session-attribute", "urlopen", "imported-verb", "flask-session",
        "docstring-and-dict", "consent-page"])
def test_the_check_catches_a_second_path(source, expected):
    assert len(findings(source, "tiktok/web/example.py")) == expected
