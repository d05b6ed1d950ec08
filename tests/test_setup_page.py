"""The Setup page (``/setup/``, issue 25 item 2) over real HTTP, the app started as a user starts it (app.py with the
shipped defaults: emulated mode, a fresh folder).

- the page lists the doctor's checks (the same :func:`tiktok.setup_checks.gather`): one row per check with its
  verdict, and the nav link reaches it;
- a world-readable token file is a problem row with its fix (``chmod 600 <path>``) and the verdict line says so;
- no secret reaches the page: not the account's tokens, not the emulator app's client secret.
"""

from __future__ import annotations

import html
import os
import re
import time

import pytest
import requests

from tests.support.app_process import start_app, stop_app
from tiktok.auth.tokens import Account, TokenStore
from tiktok.config import DEFAULT_SCOPES, EMULATOR_CLIENT_SECRET
from tiktok.store.sqlite import open_sqlite

UNAUDITED = "unaudited_client_can_only_post_to_private_accounts"

ACCESS, REFRESH = "act.setup-page-access-" + "a" * 24, "rft.setup-page-refresh-" + "r" * 24


def rows_of(page: str) -> dict[str, tuple[str, str, str]]:
    """Each row as the page shows it: check name -> (verdict, sentence, fix), the markup removed."""
    found = {}
    for name, verdict, body in re.findall(r'<tr class="setup-check[^"]*" data-check="([^"]+)" '
                                          r'data-verdict="([^"]+)">(.*?)</tr>', page, re.S):
        cells = [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", cell))).strip()
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        found[html.unescape(name)] = (verdict, cells[1], cells[2])
    return found


@pytest.mark.slow
def test_the_setup_page_shows_the_checks_and_a_world_readable_token_file_with_its_fix(tmp_path):
    now = time.time()
    store = TokenStore(tmp_path / "user_tokens.json")  # TOKENS_FILE's default, in the folder the app runs in
    store.put(Account("oid-setup-page", ACCESS, REFRESH, now + 86400, now + 300 * 86400, scopes=DEFAULT_SCOPES,
                      username="maker", emulated=True))
    os.chmod(store.path, 0o644)  # world-readable
    proc, url = start_app(tmp_path)
    try:
        home = requests.get(url + "/", timeout=30).text
        assert 'id="nav-setup" href="/setup/"' in home
        response = requests.get(url + "/setup/", timeout=30)
    finally:
        stop_app(proc)

    assert response.status_code == 200
    page = response.text
    rows = rows_of(page)
    assert {"credentials", "redirect_uri", "scopes", "app_mode", "emulator", "scopes:oid-setup-page",
            "grant:oid-setup-page", "token_file", "store_file", "media"} <= set(rows), rows
    verdict, sentence, fix = rows["token_file"]
    assert verdict == "problem" and "0644" in sentence and "the group or others can read it" in sentence
    assert fix == f"chmod 600 {tmp_path / 'user_tokens.json'}"
    assert [name for name, row in rows.items() if row[0] == "problem"] == ["token_file"], rows
    assert rows["emulator"][0] == "ok"  # the app's own emulator answers
    assert rows["app_mode"][0] == "note" and "Set TIKTOK_APP_MODE" in rows["app_mode"][1]  # the defaults say nothing
    verdict, sentence, _ = rows["caps:oid-setup-page"]  # the account's posts of the day against TikTok's cap
    assert verdict == "ok" and "@maker made 0 of 15 Direct Posts; 0 of 5 drafts in the last 24 hours" in sentence
    assert "posting_users" not in rows  # an app not known to be unaudited has no 5-account cap
    assert 'id="setup-verdict" data-exit-status="1"' in page and "1 problem:" in page
    for secret in (ACCESS, REFRESH, EMULATOR_CLIENT_SECRET):
        assert secret not in page, "a secret reached the Setup page"


@pytest.mark.slow
def test_a_mode_tiktok_showed_is_on_the_setup_page_with_the_apps_posting_accounts(tmp_path):
    """The mode detected from TikTok's refusal (saved in the store, no TIKTOK_APP_MODE) is what the page goes by: it
    says where it came from and counts the accounts that posted through the app against an unaudited app's 5."""
    now = time.time()
    store = TokenStore(tmp_path / "user_tokens.json")
    store.put(Account("oid-setup-page", ACCESS, REFRESH, now + 86400, now + 300 * 86400, scopes=DEFAULT_SCOPES,
                      username="maker", emulated=True))
    posts = open_sqlite(tmp_path / "tiktok.db")  # STORE_FILE's default, beside the token file
    try:
        posts.record_app_mode("unaudited", UNAUDITED)
    finally:
        posts.close()
    proc, url = start_app(tmp_path)
    try:
        response = requests.get(url + "/setup/", timeout=30)
    finally:
        stop_app(proc)

    assert response.status_code == 200
    rows = rows_of(response.text)
    verdict, sentence, _ = rows["app_mode"]
    assert verdict == "ok" and f"The TikTok app is unaudited (detected: TikTok answered {UNAUDITED})" in sentence
    verdict, sentence, _ = rows["posting_users"]
    assert verdict == "ok" and sentence.startswith("0 of the 5 accounts an unaudited app may post from in 24 hours")
    assert "privacy:oid-setup-page" in rows  # creator_info is asked of each account of an unaudited app
