"""Settings are read and range-checked once, at start-up (tiktok.config, the WORKER_* schedule too): what is
accepted, what the defaults mean, and a PostgreSQL server that refuses the password, which is exit 2 (a person must
fix DATABASE_URL), never 4 (try later). The refusals themselves are tabled in tests/test_bad_values.py."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tiktok.config import DEFAULT_POST_GRACE_S, load_settings, read_environment
from tiktok.db.connection import connect
from tiktok.errors import DatabaseError, DatabaseUnavailable, StoreError
from tests.support.postgres import _as_owner, free_port, server_binaries, start_command

ROOT = Path(__file__).resolve().parents[1]
EPOCH = 1_795_000_000.0  # 2026-11-18T...Z, a whole ten seconds


def worker_settings(env):
    """The WORKER_* settings of ``env``, checked as the worker checks them when it starts."""
    return load_settings(env).worker


@pytest.mark.parametrize("raw, seconds", [("0", 0.0), ("0.1", 0.1), ("0.5", 0.5), ("30", 30.0), ("86400", 86400.0)])
def test_queue_tick_accepts_off_and_sane_intervals(raw, seconds):
    assert load_settings({"QUEUE_TICK_S": raw}).queue_tick_s == seconds


def test_queue_tick_unset_leaves_the_apps_default(serve_app):
    assert load_settings({}).queue_tick_s is None
    assert serve_app().flask_app.config["QUEUE_TICK_S"] == 0.0  # tests' config: off
    assert serve_app(QUEUE_TICK_S="0.5").flask_app.config["QUEUE_TICK_S"] == 0.5


@pytest.mark.parametrize("env, port, emulator_port", [
    ({}, 8000, 8001), ({"PORT": "1"}, 1, 8001), ({"PORT": "65535", "TIKTOK_EMULATOR_PORT": " 9100 "}, 65535, 9100)])
def test_ports_from_1_to_65535(env, port, emulator_port):
    settings = load_settings(env)
    assert (settings.port, settings.emulator_port) == (port, emulator_port)


@pytest.mark.parametrize("raw, seconds", [("", DEFAULT_POST_GRACE_S), ("0", 0.0), ("90s", 90.0), ("15m", 900.0),
                                          ("365d", 365 * 86400.0)])
def test_post_grace_accepts_durations_up_to_a_year(raw, seconds):
    assert load_settings({"POST_GRACE": raw}).post_grace_s == seconds


def test_file_settings_may_name_files_not_made_yet(tmp_path):
    settings = load_settings({"TOKENS_FILE": str(tmp_path / "new" / "tokens.json"),
                              "STORE_FILE": str(tmp_path / "posts.db"), "MEDIA_DIR": str(tmp_path / "media")})
    assert settings.tokens_path == tmp_path / "new" / "tokens.json" and settings.store_path == tmp_path / "posts.db"
    assert settings.media_dir == tmp_path / "media"


def test_a_dotenv_with_a_bom_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_bytes("\ufeffPORT=8123\nTIKTOK_SCOPES=user.info.basic\nSTORE_FILE=caf\u00e9.db\n".encode())
    monkeypatch.setenv("PORT", "8124")
    values = read_environment(dotenv)
    assert values["PORT"] == "8124" and values["TIKTOK_SCOPES"] == "user.info.basic"
    assert values["STORE_FILE"] == "caf\u00e9.db"


def test_worker_defaults_are_valid_and_mean_what_env_example_says():
    import croniter

    config = worker_settings({})
    times = croniter.croniter(config.dispatch_cron, EPOCH)
    dispatch = [times.get_next(float) for _ in range(7)]
    assert [b - a for a, b in zip(dispatch, dispatch[1:])] == [10.0] * 6  # every 10 s, all minute long
    refresh = croniter.croniter(config.refresh_cron, EPOCH)
    first, second = refresh.get_next(float), refresh.get_next(float)
    assert second - first == 600.0  # every 10 minutes
    assert (config.refresh_within_s, config.stalled_s, config.heartbeat_s) == (5400.0, 30.0, 10.0)
    assert config.report_cron == "50 23 * * *"


def test_worker_settings_from_the_environment_are_kept_as_given():
    config = worker_settings({"WORKER_DISPATCH_CRON": " * * * * * * ", "WORKER_HEARTBEAT_S": "1",
                              "WORKER_STALLED_S": "4", "WORKER_REFRESH_WITHIN": "3h"})
    assert (config.dispatch_cron, config.heartbeat_s, config.stalled_s, config.refresh_within_s) == (
        "* * * * * *", 1.0, 4.0, 10800.0)


# -- a PostgreSQL server that refuses the password -----------------------------------------------------------------

RIGHT, WRONG = "r1ght-pass-word", "Wr0ng-s3cret-pw"


@pytest.fixture(scope="module")
def password_server():
    """A throwaway PostgreSQL cluster that asks for passwords (scram-sha-256), unlike the suite's trusting one."""
    binaries = server_binaries()
    folder = Path(tempfile.mkdtemp(prefix="tiktok-pgpw-"))
    owner = "nobody" if os.geteuid() == 0 else None
    password_file = folder / "password"
    password_file.write_text(RIGHT + "\n")
    if owner:
        user = pwd.getpwnam(owner)
        for path in (folder, password_file):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = free_port()
    steps = [[str(binaries / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "scram-sha-256",
              "--pwfile", str(password_file), "-E", "UTF8", "--no-sync"], start_command(binaries, folder, port)]
    try:
        for step in steps:
            done = subprocess.run(_as_owner(step, owner), capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
        yield port
    finally:
        subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop"],
                                 owner), capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def url(port: int, password: str | None, database: str = "postgres") -> str:
    who = f"postgres:{password}" if password is not None else "postgres"
    return f"postgresql://{who}@127.0.0.1:{port}/{database}"


@pytest.mark.slow
@pytest.mark.parametrize("password, database, said", [
    (WRONG, "postgres", "password authentication failed"),
    (None, "postgres", "no password supplied"),
    (RIGHT, "no_such_db", 'database "no_such_db" does not exist'),
], ids=["wrong-password", "no-password", "no-such-database"])
def test_a_refused_login_is_a_permanent_database_error(password_server, password, database, said):
    with pytest.raises(DatabaseError) as caught:
        connect(url(password_server, password, database))
    assert not isinstance(caught.value, DatabaseUnavailable) and not caught.value.transient
    message = str(caught.value)
    assert message.startswith(f'PostgreSQL database "{database}" on 127.0.0.1:{password_server} refused the login')
    assert said in message and "DATABASE_URL" in message and WRONG not in message and RIGHT not in message


def test_the_store_says_the_same_and_a_server_that_is_away_is_still_transient(password_server):
    from tiktok.store.postgres import open_postgres

    with pytest.raises(StoreError) as refused:
        open_postgres(url(password_server, WRONG))
    assert not refused.value.transient and "refused the login" in str(refused.value)
    assert WRONG not in str(refused.value)
    with pytest.raises(DatabaseUnavailable):  # nothing listens on the next port: try later, as before
        connect(url(password_server + 1, WRONG))
    connect(url(password_server, RIGHT)).close()  # and the right password works


COMMANDS = [["upload_to_tiktok.py"], ["-m", "tiktok", "refresh"], ["-m", "tiktok", "report"],
            ["-m", "tiktok", "accounts"], ["-m", "tiktok", "queue"], ["-m", "tiktok", "worker"],
            ["-m", "tiktok", "db", "migrate"], ["-m", "tiktok", "db", "status"], ["-m", "tiktok", "db", "import"],
            ["transcribe.py", "--account", "nobody"], ["-m", "tiktok", "alerts", "status"]]


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_exits_2_when_the_password_is_refused(password_server, command, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": url(password_server, WRONG, "tiktok")}
    script = [str(ROOT / command[0]), *command[1:]] if command[0].endswith(".py") else command
    done = subprocess.run([sys.executable, *script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f'PostgreSQL database "tiktok" on 127.0.0.1:{password_server} refused the login' in output
    assert WRONG not in output and "Traceback" not in output


def test_the_values_shown_in_env_example_pass_the_checks():
    from dotenv import dotenv_values

    shown = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v}
    settings = load_settings(shown)
    assert (settings.port, settings.queue_tick_s, settings.post_grace_s) == (8000, 30.0, 3600.0)
    assert worker_settings(shown) == worker_settings({})  # the defaults, as documented
