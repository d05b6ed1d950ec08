import json
import os
import stat

import pytest

from tiktok.errors import TokenFileError
from tiktok.auth.oauth import TokenGrant
from tiktok.auth.tokens import Account, TokenStore

NOW = 1_800_000_000.0


def grant(open_id="open-1", access="act.secret-access", refresh="rft.secret-refresh"):
    return TokenGrant(open_id=open_id, access_token=access, refresh_token=refresh, expires_in=7200,
                      refresh_expires_in=15_552_000, scopes=("user.info.basic", "video.list"))


@pytest.fixture
def token_store(tmp_path):
    return TokenStore(tmp_path / "user_tokens.json", clock=lambda: NOW)


def test_missing_file_is_an_empty_store(token_store):
    assert token_store.load() == {}
    assert not token_store.path.exists()


def test_expiry_is_stored_as_absolute_times(token_store):
    token_store.put(Account.from_grant(grant(), NOW, display_name="Alex"))
    account = token_store.get("open-1")
    assert account.expires_at == NOW + 7200
    assert account.refresh_expires_at == NOW + 15_552_000
    assert account.scopes == ("user.info.basic", "video.list")
    raw = json.loads(token_store.path.read_text())
    assert raw["version"] == 1
    assert raw["accounts"]["open-1"]["expires_at"] == NOW + 7200


def test_file_is_private_and_no_temp_files_remain(token_store):
    token_store.put(Account.from_grant(grant(), NOW))
    assert stat.S_IMODE(os.stat(token_store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(token_store.lock_path).st_mode) == 0o600
    leftovers = [p.name for p in token_store.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_stale_temp_files_from_a_killed_writer_are_cleaned(token_store):
    stale = token_store.path.parent / f".{token_store.path.name}.abc123.tmp"
    stale.write_text('{"half": ')
    token_store.put(Account.from_grant(grant(), NOW))
    assert not stale.exists()


def test_update_keeps_other_accounts_and_removes_only_the_named_one(token_store):
    token_store.put(Account.from_grant(grant("a"), NOW))
    token_store.put(Account.from_grant(grant("b"), NOW))
    assert token_store.remove("a") is True
    assert token_store.remove("a") is False
    assert set(token_store.load()) == {"b"}


def test_unchanged_transaction_does_not_rewrite(token_store):
    token_store.put(Account.from_grant(grant(), NOW))
    before = os.stat(token_store.path).st_ino
    with token_store.transaction():
        pass
    assert os.stat(token_store.path).st_ino == before


def test_repr_never_shows_tokens(token_store):
    account = Account.from_grant(grant(), NOW)
    assert "act.secret-access" not in repr(account) and "rft.secret-refresh" not in repr(account)
    assert "rft.secret-refresh" not in repr(grant())


GOOD = json.dumps({"version": 1, "accounts": {"open-1": Account.from_grant(grant(), NOW).to_json()}})

BAD_FILES = [
    ("empty", b"", "is empty"),
    ("whitespace", b"  \n", "is empty"),
    ("truncated", GOOD[: len(GOOD) // 2].encode(), "not valid JSON (line"),
    ("not json", b"access_token=abc\n", "not valid JSON"),
    ("binary", b"\xff\xfe\x00garbage", "cannot be read"),
    ("list", b"[]", "wrong shape"),
    ("no accounts", b'{"version": 1}', "wrong shape"),
    ("accounts list", b'{"version": 1, "accounts": []}', "wrong shape"),
    ("future version", b'{"version": 2, "accounts": {}}', "format version 2"),
    ("account not object", b'{"version": 1, "accounts": {"x": "tok"}}', 'account "x" is not a JSON object'),
    ("missing field", json.dumps({"version": 1, "accounts": {"x": {"access_token": "a"}}}).encode(),
     'account "x" has no "refresh_token"'),
    ("wrong type", GOOD.replace(str(NOW + 7200), '"soon"').encode(), 'field "expires_at" has the wrong type'),
]


@pytest.mark.parametrize("name, content, expected", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_token_files_name_the_file_and_are_left_alone(token_store, name, content, expected):
    token_store.path.write_bytes(content)
    os.chmod(token_store.path, 0o640)
    with pytest.raises(TokenFileError) as err:
        token_store.load()
    assert str(token_store.path) in str(err.value) and expected in str(err.value)
    with pytest.raises(TokenFileError):
        token_store.put(Account.from_grant(grant("new"), NOW))
    assert token_store.path.read_bytes() == content  # never overwritten
    assert stat.S_IMODE(os.stat(token_store.path).st_mode) == 0o640
    if b"secret" in content:
        assert "secret" not in str(err.value)


def test_unreadable_path_names_the_file(tmp_path):
    folder = tmp_path / "user_tokens.json"
    folder.mkdir()
    with pytest.raises(TokenFileError) as err:
        TokenStore(folder).load()
    assert str(folder) in str(err.value) and "cannot be read" in str(err.value)


def test_lock_timeout_is_a_clear_error(token_store):
    from filelock import FileLock
    holder = FileLock(str(token_store.lock_path))
    holder.acquire()
    try:
        impatient = TokenStore(token_store.path, lock_timeout=0.05)
        with pytest.raises(TokenFileError, match="could not lock"):
            impatient.put(Account.from_grant(grant(), NOW))
    finally:
        holder.release()


def test_the_example_file_is_a_valid_token_file():
    from pathlib import Path
    example = Path(__file__).resolve().parents[1] / "user_tokens.json.example"
    accounts = TokenStore(example).load()
    assert list(accounts) == ["723f24d7-e717-40f8-a2b6-cb8464cd23b4"]
