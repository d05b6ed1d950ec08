"""No part of the DATABASE_URL password in any output, whatever characters it holds (issue 22, item 7).

A password holding ``/``, ``#``, ``@``, ``%`` or ``?`` and pasted into the URL unencoded used to print its start in a
traceback from every command (``ValueError: Port could not be cast to integer value as 'abc'``). Now:

- the rule itself (fast): every URL the check accepts is read alike by Python's urllib and by libpq (hypothesis, over
  passwords of any characters, encoded or not), every password percent-encoded is accepted and read back exactly,
  and each kind of unencoded password is refused with a sentence saying how to encode it and quoting none of it;
- every command (``python -m tiktok <each command>`` and the entry scripts) with such a URL: exit 2, one line, no
  traceback and no run of 3 or more of the password's characters in what it prints;
- the same password, encoded, against a server that asks for it: every command, with ``-v``, the worker and the app
  (its pages too) print none of it either, and with a wrong one each says the login was refused (exit 2).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg
import pytest
import requests
from hypothesis import given, settings as hypothesis_settings, strategies as st
from psycopg import sql

from tiktok.config import load_settings
from tiktok.dburl import PROBLEMS, parse_database_url, refusal
from tiktok.errors import ConfigError
from tests.support.app_process import free_port
from tests.support.clusters import own_cluster

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Qz9/Xw#Ry@Kv%Jn"  # each character urllib or libpq splits a URL at, between letters found nowhere else
WRONG = "Zt4/Mp#Lq@Hd%Gb"
ROLE = "secretive"
UNENCODED = {  # what a person pastes: the password as it is
    "slash": "Qz9/Xw7Ry", "hash": "Qz9#Xw7Ry", "at": "Qz9@Xw7Ry", "percent": "Qz9%Xw7Ry", "question": "Qz9?Xw7Ry",
    "all four": PASSWORD,
}
# every command of the tree (tiktok.cli.COMMANDS) with the arguments each needs; the entry scripts
RUNS = {"refresh": [[]], "post": [[]], "accounts": [[]], "report": [[]], "transcribe": [["--account", "nobody"]],
        "tokens": [["encrypt"], ["decrypt"], ["rotate-key"]], "db": [["migrate"], ["status"], ["import"]],
        "worker": [[]], "queue": [[]], "app": [[]], "workers": [[]], "media": [["fix", "missing.mp4"]],
        "status": [[]], "alerts": [["status"]],  # alerts test opens no store: no login of its to refuse
        "doctor": [[]],  # reads the accounts from the database: refuses a wrong login like the others
        "slots": [["feed"]],  # opens the post store
        "import": [[str(ROOT / "tests" / "data" / "one_row.csv"), "--dry-run"]]}  # reads the accounts
NO_SETTINGS = ("media",)  # works on the files it is given and reads no setting: it just must not print the URL
SCRIPTS = [["upload_to_tiktok.py"], ["transcribe.py", "--account", "nobody"], ["app.py"]]
SERVING = ("app", "worker")  # they run until stopped: given a few seconds, then SIGTERM
RUN_S = 8.0


def fragments(secret: str, shortest: int = 3) -> set[str]:
    """Every run of ``shortest`` or more characters of ``secret``."""
    return {secret[i:j] for i in range(len(secret)) for j in range(i + shortest, len(secret) + 1)}


def leaked(output: str, *secrets: str) -> list[str]:
    return sorted(piece for secret in secrets for piece in fragments(secret) if piece in output)


def url(password: str, port: int = 5432, user: str = ROLE) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{port}/tiktok"


# -- the rule --------------------------------------------------------------------------------------------------------

def test_the_fragments_are_what_the_assertions_look_for():
    assert "Qz9" in fragments(PASSWORD) and PASSWORD in fragments(PASSWORD) and "Qz" not in fragments(PASSWORD)
    assert leaked("error near 'Xw#R'", PASSWORD) == ["Xw#", "Xw#R", "w#R"]


@pytest.mark.parametrize("name", UNENCODED)
def test_an_unencoded_password_is_a_config_error_that_says_how_to_encode_it(name):
    password = UNENCODED[name]
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL": url(password)})
    message = str(caught.value)
    assert message in {refusal(problem) for problem in PROBLEMS}
    assert message.startswith("DATABASE_URL cannot be read: ")
    assert "Percent-encode the user name and password" in message
    assert "%2F" in message and "%40" in message and "%25" in message  # how, spelled out
    assert leaked(message, password) == []


@pytest.mark.parametrize("raw, problem", [
    ("postgresql://u:pw@host:54x2/db", "its port is not a whole number"),
    ("postgresql://u:pw@host:70000/db", "its port is not a whole number"),
    ("postgresql://u:pw@host:5\u00b2/db", "its port is not a whole number"),  # a digit to str.isdigit, not to int
    ("postgresql://u:pw@[::1/db", "is not closed"),
    ("postgresql://u:p[w@host/db", "holds a '[' or ']'"),
    ("postgresql://u:pw@host/db%zz", "'%' that is not followed by two hexadecimal digits"),
    ("postgresql://u:p%00w@host/db", "(or is %00)"),
    ("postgresql://u:p\tw@host/db", "control character"),
    ("postgresql://u:p%90w@host/db", "not UTF-8 text"),
    ("postgresql://u:p w@host/db", "a space"),
])
def test_other_unreadable_urls_name_their_problem(raw, problem):
    with pytest.raises(ConfigError, match="DATABASE_URL cannot be read") as caught:
        parse_database_url(raw)
    assert problem in str(caught.value)


@pytest.mark.parametrize("raw, described", [
    (url(quote(PASSWORD, safe="")), 'PostgreSQL database "tiktok" on 127.0.0.1:5432'),
    ("postgres://db.example/tiktok", 'PostgreSQL database "tiktok" on db.example'),
    ("postgresql://u@h1:5432,h2:5433/q?sslmode=require", 'PostgreSQL database "q" on h1:5432, h2:5433'),
    ("postgresql://u@[::1]:6432/q", 'PostgreSQL database "q" on [::1]:6432'),
    ("postgresql:///tiktok?host=/var/run/postgresql", 'PostgreSQL database "tiktok" on /var/run/postgresql'),
    ("postgresql://%2Fvar%2Frun%2Fpostgresql/my%20db", 'PostgreSQL database "my db" on /var/run/postgresql'),
    ("postgresql://", 'PostgreSQL database "(default)" on local socket'),
])
def test_a_readable_url_is_described_without_user_or_password(raw, described):
    assert parse_database_url(raw).describe() == described


# PostgreSQL's passwords hold any character but NUL (a C string)
PASSWORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
                    min_size=1, max_size=24)
RAW_PASSWORDS = st.text(alphabet="/#@%?:[]&= aZ09_-.~!$'()*+,;" + "\u00e9\u4e2d", min_size=1, max_size=16)


@hypothesis_settings(max_examples=300, deadline=None)
@given(PASSWORDS)
def test_every_percent_encoded_password_is_accepted_and_read_back_exactly(password):
    raw = url(quote(password, safe=""))
    assert parse_database_url(raw).describe() == 'PostgreSQL database "tiktok" on 127.0.0.1:5432'
    assert unquote(urlsplit(raw).password) == password  # Python's reading
    assert psycopg.conninfo.conninfo_to_dict(raw)["password"] == password  # libpq's


@hypothesis_settings(max_examples=500, deadline=None)
@given(RAW_PASSWORDS)
def test_a_url_is_accepted_only_when_urllib_and_libpq_read_it_alike(password):
    raw = url(password)
    try:
        parse_database_url(raw)
    except ConfigError as refused:
        assert str(refused) in {refusal(problem) for problem in PROBLEMS}  # its own words only, none of the URL
        return
    parts = urlsplit(raw)
    libpq = psycopg.conninfo.conninfo_to_dict(raw)
    assert (parts.hostname, parts.port, unquote(parts.password)) == ("127.0.0.1", 5432, libpq["password"])
    assert (libpq["host"], libpq["port"], libpq["dbname"], libpq["user"]) == ("127.0.0.1", "5432", "tiktok", ROLE)


# -- every command -------------------------------------------------------------------------------------------------

def invocations() -> list[list[str]]:
    """``-m tiktok <command> <args>`` for each command and set of arguments, then each entry script."""
    runs = [["-m", "tiktok", name, *args] for name, each in RUNS.items() for args in each]
    return runs + [[str(ROOT / script[0]), *script[1:]] for script in SCRIPTS]


def run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int | None, str]:
    """Run one command; one that serves (the worker, the app) is given RUN_S seconds, then SIGTERM."""
    serving = any(name in argv for name in SERVING) or argv[0].endswith("app.py")
    if serving and ("app" in argv or argv[0].endswith("app.py")):
        argv = [*argv, "--port", str(free_port()), "--emulator-port", str(free_port())]
    proc = subprocess.Popen([sys.executable, *argv], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=RUN_S if serving else 120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    return proc.returncode, out + err


def is_app(command: str) -> bool:
    return command.split()[:3] == ["-m", "tiktok", "app"] or command.startswith("app.py")


def environment(tmp_path: Path, database_url: str, emulator) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url,
            "TIKTOK_API_BASE": emulator.url, "TIKTOK_CLIENT_KEY": emulator.config.client_key,
            "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "REPORTS_DIR": str(tmp_path / "reports"),
            "TRANSCRIPTS_DIR": str(tmp_path / "transcripts"), "MANIFEST_FILE": str(tmp_path / "videos.json")}


def run_all(argvs: list[list[str]], env: dict[str, str], cwd: Path) -> list[tuple[str, int | None, str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda argv: run(argv, env, cwd), argvs)
        return [(" ".join(Path(a).name if a.endswith(".py") else a for a in argv), code, output)
                for argv, (code, output) in zip(argvs, results)]


def test_the_table_names_every_command():
    from tiktok.cli import COMMANDS

    assert set(RUNS) == set(COMMANDS)


@pytest.mark.slow
@pytest.mark.parametrize("name", UNENCODED)
def test_every_command_refuses_an_unencoded_password_without_printing_it(name, emulator, tmp_path):
    password = UNENCODED[name]
    env = environment(tmp_path, url(password, free_port()), emulator)
    for command, code, output in run_all(invocations(), env, tmp_path):
        assert leaked(output, password) == [], (command, output)
        assert code == 2 and "Traceback" not in output, (command, code, output)
        if not any(name in command.split() for name in NO_SETTINGS):
            assert "DATABASE_URL cannot be read" in output and "Percent-encode" in output, (command, output)


@pytest.fixture(scope="module")
def asking_server():
    """A cluster of this module's own where the role ``secretive`` must give its password (scram-sha-256), which
    holds all four characters; its database ``tiktok`` migrated."""
    with own_cluster(options="-c fsync=off", hba=(f"host all {ROLE} 127.0.0.1/32 scram-sha-256",)) as server:
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE),
                                                                           sql.Literal(PASSWORD)))
            conn.execute(sql.SQL("CREATE DATABASE tiktok OWNER {}").format(sql.Identifier(ROLE)))
        yield server


@pytest.mark.slow
def test_with_the_password_encoded_no_command_prints_any_of_it(asking_server, emulator, tmp_path):
    encoded = quote(PASSWORD, safe="")
    env = environment(tmp_path, url(encoded, asking_server.port), emulator)
    migrated = run(["-m", "tiktok", "db", "-v", "migrate"], env, tmp_path)
    assert migrated[0] == 0, migrated[1]  # the right password, encoded, is the right password
    verbose = [[*argv[:3], "-v", *argv[3:]] if argv[0] == "-m" else [argv[0], "-v", *argv[1:]]
               for argv in invocations()]
    results = run_all(verbose, env, tmp_path)
    for command, code, output in results:
        assert leaked(output, PASSWORD, encoded) == [], (command, output)
        assert "Traceback" not in output, (command, output)
    worker = next(output for command, _, output in results if command == "-m tiktok worker -v")
    assert "job(s) at once" in worker  # it started and ran until stopped: its log was read too


@pytest.mark.slow
def test_the_app_pages_show_the_database_but_none_of_the_password(asking_server, emulator, tmp_path):
    from tests.support.app_process import start_app, stop_app

    encoded = quote(PASSWORD, safe="")
    env = environment(tmp_path, url(encoded, asking_server.port), emulator)
    assert run(["-m", "tiktok", "db", "migrate"], env, tmp_path)[0] == 0
    proc, base = start_app(tmp_path, "-v", env=env)
    try:
        pages = [requests.get(base + path, timeout=30) for path in ("/", "/posts/", "/posts/board?since=0")]
    finally:
        stderr = stop_app(proc)
    for page in pages:
        assert page.status_code == 200, page.text[:2000]
        assert leaked(page.text, PASSWORD, encoded) == []
    assert leaked(stderr, PASSWORD, encoded) == [] and "Traceback" not in stderr


@pytest.mark.slow
def test_with_a_wrong_password_every_command_says_the_login_was_refused(asking_server, emulator, tmp_path):
    encoded = quote(WRONG, safe="")
    env = environment(tmp_path, url(encoded, asking_server.port), emulator)
    started = time.monotonic()
    for command, code, output in run_all(invocations(), env, tmp_path):
        assert leaked(output, WRONG, encoded, PASSWORD) == [], (command, output)
        assert "Traceback" not in output, (command, output)
        if any(name in command.split() for name in NO_SETTINGS) or is_app(command):
            continue  # the app starts anyway and answers 503 with the reason (tests/test_pg_outage.py)
        assert code == 2, (command, code, output)
        assert f'PostgreSQL database "tiktok" on 127.0.0.1:{asking_server.port} refused the login' in output, \
            (command, output)
    assert time.monotonic() - started < 300
