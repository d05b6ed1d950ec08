"""Run the README's "Use it from Python" script unchanged, as a person would, against the emulator.

    python readme_driver.py README.md      (in a folder holding clip.mp4; TIKTOK_* and PHOTO_URL set)

Standalone on purpose (standard library and requests only, nothing from tests/): the install test runs it with a
fresh virtual environment's Python from outside the clone, so ``tiktok`` is the installed package. The person's
part is played by ``input``: it opens the consent page the script printed, submits it as a browser would (the
first account, every scope), and answers with the address TikTok redirected to.

Prints one JSON line last: ``{"prints": [...], "peak_growth_bytes": N}``, where the growth is the process's peak
resident memory after the login (the upload's part) over its resident memory when the login ended (Linux's
``clear_refs`` resets the peak; failing to reset it fails the run).
"""

from __future__ import annotations

import builtins
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

SECTION = "## Use it from Python"


def readme_script(readme: Path) -> str:
    """The one python code block of the README's section."""
    text = readme.read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    if len(blocks) != 1:
        raise SystemExit(f"expected one python block in {SECTION!r}, found {len(blocks)}")
    return blocks[0]


class ConsentForm(HTMLParser):
    """The consent page's form: its action and what a browser submits with the defaults chosen."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self._radios: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        if tag != "input" or "name" not in a:
            return
        kind = a.get("type", "text")
        if kind == "radio":
            if a["name"] not in self._radios:  # the first account offered
                self._radios.add(a["name"])
                self.fields.append((a["name"], a.get("value", "")))
        elif kind == "checkbox":
            if "disabled" not in a:
                self.fields.append((a["name"], a.get("value", "")))
        elif kind not in ("submit", "button"):
            self.fields.append((a["name"], a.get("value", "")))


def consent(url: str) -> str:
    """Open the consent page, allow, and return where TikTok sends the browser."""
    http = requests.Session()
    page = http.get(url, timeout=10)
    page.raise_for_status()
    form = ConsentForm()
    form.feed(page.text)
    target = urljoin(url, form.action or urlsplit(url).path)
    answer = http.post(target, data=[*form.fields, ("decision", "authorize")], allow_redirects=False, timeout=10)
    if answer.status_code != 302:
        raise SystemExit(f"consent page answered {answer.status_code}")
    return answer.headers["Location"]


def resident_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"/proc/self/status has no {field}")


def main(readme: str) -> int:
    printed: list[str] = []
    real_print = builtins.print
    marks: dict[str, int] = {}

    def record(*args: object, **kwargs: object) -> None:
        printed.append(" ".join(str(a) for a in args))
        real_print(*args, **kwargs)  # type: ignore[call-overload]

    def person(prompt: str = "") -> str:
        url = next(word for line in reversed(printed) for word in line.split() if word.startswith("http"))
        redirected = consent(url)
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak: what follows is the posting part
        marks["after_login"] = resident_bytes("VmRSS")
        return redirected

    builtins.print, builtins.input = record, person
    try:
        exec(compile(readme_script(Path(readme)), readme, "exec"), {"__name__": "__readme__"})
    finally:
        builtins.print = real_print
    growth = resident_bytes("VmHWM") - marks["after_login"]
    real_print(json.dumps({"prints": printed, "peak_growth_bytes": growth}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
