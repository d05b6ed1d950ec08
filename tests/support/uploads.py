"""What compose.js does to upload a file, in Python: the sliced protocol of tiktok/web/uploads.py over real HTTP.

Start (``{"name", "size"}``, the page's CSRF token in ``X-CSRF-Token``), then PUT each slice at its index, a few
in flight, each sent from the file by the kernel (memory never holds the file), then finish. Used by the tests and
bench/compose_upload.py; ``skip`` leaves slices out, as a dropped connection would, to show the resume.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests

IN_FLIGHT = 4  # compose.js's IN_FLIGHT
START_PATH = "/posts/new/uploads"


def bytes_on_disk(folders: Iterable[Path], pids: Iterable[int] = ()) -> int:
    """Disk blocks in use under ``folders`` (a sparse file counts what it holds, not its length), and in files the
    processes ``pids`` hold open there after deleting them: waitress spools bodies to such unnamed files."""
    roots = [str(Path(f).resolve()) for f in folders]
    seen: set[tuple[int, int]] = set()
    total = 0

    def count(path: str, *, follow: bool) -> None:
        nonlocal total
        try:
            info = os.stat(path) if follow else os.lstat(path)
        except OSError:  # gone meanwhile
            return
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512

    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                count(os.path.join(folder, name), follow=False)
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}").removesuffix(" (deleted)")
            except OSError:
                continue
            if any(target.startswith(root + os.sep) for root in roots):
                count(f"/proc/{pid}/fd/{fd}", follow=True)
    return total


def status_kb(pid: int, field_name: str) -> int:
    """A figure of ``/proc/<pid>/status`` in KiB (``VmRSS``, ``VmHWM``: the peak RSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field_name} for process {pid}")


def reset_peak_rss(pid: int) -> None:
    """Linux (4.0 on): writing 5 to clear_refs starts the process's peak RSS (VmHWM) again from its RSS now."""
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


def bytes_written(pid: int) -> int:
    """What process ``pid`` has handed to write()/pwrite() so far (``wchar`` of ``/proc/<pid>/io``): files, pipes
    and logs, not what it sends on sockets. A body spooled and then copied would count twice."""
    with open(f"/proc/{pid}/io") as io:
        for line in io:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise RuntimeError(f"no wchar for process {pid}")


def open_files_in(pid: int, folder: Path) -> list[str]:
    """The files under ``folder`` that process ``pid`` holds open (deleted ones included)."""
    root = str(Path(folder).resolve()) + os.sep
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(root):
            held.append(target)
    return held


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@dataclass
class SliceClient:
    """One browser's uploads: its session cookies and CSRF token, over ``base_url``."""

    base_url: str
    http: requests.Session
    csrf: str
    in_flight: int = IN_FLIGHT
    timeout_s: float = 60.0
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @classmethod
    def for_page(cls, base_url: str, http: requests.Session, open_id: str, **kw) -> "SliceClient":
        """Open the composer for ``open_id`` in ``http`` (as the person does) and take its token."""
        page = http.get(f"{base_url}/posts/new?open_id={quote(open_id)}", timeout=30)
        assert page.status_code == 200, page.text[:500]
        return cls(base_url, http, csrf_of(page.text), **kw)

    def session(self) -> requests.Session:
        """A session per thread with this browser's cookies (one connection each, as a browser keeps)."""
        mine = getattr(self._local, "http", None)
        if mine is None:
            mine = self._local.http = requests.Session()
        mine.cookies.update(self.http.cookies)
        return mine

    def call(self, method: str, path: str, *, data: bytes | None = None, body: object = None,
             token: str | None = None) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf if token is None else token}
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        return self.session().request(method, self.base_url + path, data=data, headers=headers,
                                      timeout=self.timeout_s)

    def start(self, open_id: str, name: str, size: int, token: str | None = None) -> requests.Response:
        return self.call("POST", f"{START_PATH}?open_id={quote(open_id)}", body={"name": name, "size": size},
                         token=token)

    def put(self, url: str, index: int, data: bytes) -> requests.Response:
        return self.call("PUT", f"{url}/{index}", data=data)

    def status(self, url: str) -> requests.Response:
        return self.call("GET", url)

    def finish(self, url: str) -> requests.Response:
        return self.call("POST", f"{url}/finish")

    def abandon(self, url: str) -> requests.Response:
        return self.call("DELETE", url)

    def send(self, path: Path, started: dict, indexes: Iterable[int]) -> int:
        """PUT slices ``indexes`` of ``path`` for the upload ``started`` (the start's JSON), a few in flight, each
        on a kept-alive connection of its own and sent from the file by the kernel (``sendfile``), as a browser
        sends a ``File.slice``; how many were sent."""
        step, size = started["slice_bytes"], path.stat().st_size
        host, port = urlsplit(self.base_url).hostname, urlsplit(self.base_url).port
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.get_dict().items())
        local, opened = threading.local(), []
        with path.open("rb") as source:
            def one(index: int) -> None:
                connection = getattr(local, "connection", None)
                if connection is None:
                    connection = local.connection = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
                    opened.append(connection)
                length = min(step, size - index * step)
                connection.putrequest("PUT", f"{started['url']}/{index}", skip_accept_encoding=True)
                for name, value in (("Cookie", cookie), ("X-CSRF-Token", self.csrf),
                                    ("Content-Type", "application/octet-stream"), ("Content-Length", str(length))):
                    connection.putheader(name, value)
                connection.endheaders()
                connection.sock.sendfile(source, index * step, length)
                answer = connection.getresponse()
                body = answer.read()
                assert answer.status == 200, body[:500]
            try:
                with ThreadPoolExecutor(self.in_flight) as pool:
                    return sum(1 for _ in pool.map(one, indexes))
            finally:
                for connection in opened:
                    connection.close()

    def upload(self, path: Path, open_id: str, *, name: str | None = None,
               skip: Iterable[int] = ()) -> requests.Response:
        """The whole upload of ``path``; the finish's answer (or the start's, when it refused)."""
        size = path.stat().st_size
        started = self.start(open_id, name or path.name, size)
        if started.status_code != 201:
            return started
        plan = started.json()
        left_out = set(skip)
        self.send(path, plan, [i for i in range(plan["slices"]) if i not in left_out])
        return self.finish(plan["url"])
