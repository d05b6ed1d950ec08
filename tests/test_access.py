"""fresh_account: what any script calls to get a working access token."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
import requests

from tiktok.auth.access import fresh_account, refresh_account
from tiktok.emulator.config import default_users
from tiktok.errors import AccountNotFound, OAuthError, RelinkNeeded
from tiktok.words import WORDS, read
from tests.support.flows import link_account

ADA = default_users()[0].open_id


def set_expiry(store, open_id, **deadlines):
    with store.transaction() as accounts:
        accounts[open_id] = replace(accounts[open_id], **deadlines)


def test_fresh_token_is_returned_without_calling_tiktok(emulator, remote, store, oauth):
    linked = link_account(emulator.url, store, oauth, ADA)
    assert fresh_account(store, oauth, ADA).access_token == linked.access_token
    assert remote.state()["tokens"]["rotated"] == 0


def test_token_close_to_expiry_is_refreshed_and_works(emulator, remote, store, oauth):
    linked = link_account(emulator.url, store, oauth, ADA)
    set_expiry(store, ADA, expires_at=time.time() + 120)  # inside the 10-minute leeway
    account = fresh_account(store, oauth, ADA)
    assert account.access_token != linked.access_token
    assert store.get(ADA).refresh_token == account.refresh_token
    answer = requests.get(emulator.url + "/v2/user/info/", params={"fields": "open_id"}, timeout=5,
                          headers={"Authorization": f"Bearer {account.access_token}"})
    assert answer.json()["data"]["user"]["open_id"] == ADA


def test_expired_access_token_is_refused_by_tiktok_and_refreshed_by_us(emulator, remote, store, oauth):
    linked = link_account(emulator.url, store, oauth, ADA)
    remote.advance_clock(7201)
    answer = requests.get(emulator.url + "/v2/user/info/", params={"fields": "open_id"}, timeout=5,
                          headers={"Authorization": f"Bearer {linked.access_token}"})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "access_token_invalid"
    set_expiry(store, ADA, expires_at=time.time() - 1)
    assert fresh_account(store, oauth, ADA).access_token != linked.access_token


def test_a_refresh_done_by_another_process_while_waiting_is_not_repeated(emulator, remote, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    set_expiry(store, ADA, expires_at=time.time() + 60)
    first = refresh_account(store, oauth, ADA, force=False)  # "the other process"
    second = refresh_account(store, oauth, ADA, force=False)  # saw it under the lock: no second rotation
    assert first.refresh_token == second.refresh_token
    assert remote.state()["tokens"]["rotated"] == 1


def test_dead_refresh_token_marks_the_account_for_relinking(emulator, remote, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    remote.revoke_user(ADA)
    set_expiry(store, ADA, expires_at=time.time() + 60)
    with pytest.raises(RelinkNeeded) as err:
        fresh_account(store, oauth, ADA)
    assert err.value.open_id == ADA and "invalid_grant" in err.value.reason
    assert store.get(ADA).relink_reason == err.value.reason  # the app shows it; cron reports it without a call
    words = read(err.value.reason)  # plain words first, TikTok's code and log_id apart
    assert words.sentence == WORDS["invalid_grant"] and words.code == "invalid_grant"
    assert words.details.startswith("code invalid_grant; ") and re.search(r"; log_id \w+$", words.details)


def test_expired_refresh_token_needs_relinking_without_a_call(emulator, remote, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    set_expiry(store, ADA, expires_at=time.time() - 1, refresh_expires_at=time.time() - 1)
    with pytest.raises(RelinkNeeded, match="expired"):
        fresh_account(store, oauth, ADA)
    assert remote.state()["tokens"]["rotated"] == 0


def test_transient_failure_keeps_the_stored_tokens(emulator, remote, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    set_expiry(store, ADA, expires_at=time.time() + 60)
    before = store.get(ADA)
    remote.inject_fault("/v2/oauth/token/", status=503, error="temporarily_unavailable")
    with pytest.raises(OAuthError) as err:
        fresh_account(store, oauth, ADA)
    assert err.value.transient
    assert store.get(ADA) == before


def test_unknown_account(store, oauth):
    with pytest.raises(AccountNotFound, match="nobody"):
        fresh_account(store, oauth, "nobody")


def test_call_with_token_refreshes_once_when_tiktok_says_expired(emulator, remote, store, oauth):
    from tiktok.auth.access import call_with_token
    from tiktok.api import ApiClient
    link_account(emulator.url, store, oauth, ADA)
    remote.advance_clock(3 * 3600)  # TikTok's clock says the token is dead; ours says it is fresh
    api = ApiClient(requests.Session(), api_base=emulator.url)
    user = call_with_token(store, oauth, ADA, lambda token: api.user_info(token, ["open_id"]))
    assert user["open_id"] == ADA
    assert remote.state()["tokens"]["rotated"] == 1


def test_an_account_marked_for_relinking_never_sends_its_refused_token_again(emulator, remote, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    remote.revoke_user(ADA)
    with pytest.raises(RelinkNeeded):
        refresh_account(store, oauth, ADA, force=True)
    remote.inject_fault("/v2/oauth/token/", status=503, error="temporarily_unavailable", times=2)
    for call in (lambda: refresh_account(store, oauth, ADA, force=True), lambda: fresh_account(store, oauth, ADA)):
        with pytest.raises(RelinkNeeded) as err:  # a call to TikTok would have met the 503 instead
            call()
        assert "invalid_grant" in err.value.reason  # the reason recorded the first time
    assert len(remote.state()["faults"]) == 1 and remote.state()["faults"][0]["times"] == 2  # untouched
