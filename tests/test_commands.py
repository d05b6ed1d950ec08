"""One command tree, one settings object, one wrapper from errors to exit codes (issue 20).

- The tree: every command is a module of tiktok/commands/ whose docstring is its help; ``python -m tiktok`` lists
  them all, and each entry script is the same parser as its command, under the script's name.
- Options that stand for a setting are that setting: given, they win over the environment and are checked like it.
- One wrapper: a typed error raised by any command is one line and the exit code its kind stands for.
- One reader of the environment: tiktok/config.py (the grep a maintainer would run, as a test), in sections, read
  once per command; the worker's jobs get the settings through Procrastinate's job context.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tiktok import cli
from tiktok.commands import Context
from tiktok.config import load_settings
from tiktok.errors import (AccountNotFound, APIError, ChangeRefused, ConfigError, DatabaseUnavailable, RelinkNeeded,
                           ServerError, StoreError, StoreUnavailable, TikTokError, TokenFileError)
from tiktok.exitcodes import ExitStatus, status_for
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tiktok"
SCRIPTS = {"upload_to_tiktok.py": "post", "transcribe.py": "transcribe", "app.py": "app"}


# -- the tree ------------------------------------------------------------------------------------------------------

def test_every_command_module_is_in_the_tree_once() -> None:
    modules = {p.stem for p in (PACKAGE / "commands").glob("*.py") if p.stem != "__init__"}
    assert set(cli.COMMANDS) == {m.rstrip("_") for m in modules}  # import_.py: the command named for a keyword
    assert {module.__name__ for module in cli.COMMANDS.values()} == {f"tiktok.commands.{m}" for m in modules}


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_a_commands_help_is_its_docstring(name: str) -> None:
    module = cli.COMMANDS[name]
    summary, _, rest = module.__doc__.strip().partition("\n")
    parser, parsers = cli.build_parser()
    listing = " ".join(parser.format_help().split())
    assert f"{name} {summary}" in listing  # the first line, in the list of commands
    assert " ".join((rest.strip() or summary).split()) in " ".join(parsers[name].format_help().split())
    assert callable(module.run) and callable(module.add_parser)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_an_entry_script_is_its_command_under_its_own_name(script: str) -> None:
    """``upload_to_tiktok.py --help`` is ``python -m tiktok post --help`` but for the name it goes by."""
    def help_of(args: list[str]) -> str:
        done = subprocess.run([sys.executable, *args, "--help"], cwd=ROOT, capture_output=True, text=True,
                              timeout=30, env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"})
        assert done.returncode == 0, done.stderr
        return done.stdout

    command = SCRIPTS[script]
    alone, in_tree = help_of([str(ROOT / script)]), help_of(["-m", "tiktok", command])
    assert alone.startswith(f"usage: {script} [-h]")
    # the same words; only the usage lines wrap differently under a name of another length
    alone = alone.replace(f"usage: {script}", f"usage: python -m tiktok {command}", 1)
    assert " ".join(alone.split()) == " ".join(in_tree.split())
    assert (ROOT / script).read_text().count("main(") == 1  # thin: it only calls the tree


def test_the_parser_a_command_runs_with_is_the_tree_s(tmp_path: Path) -> None:
    tree = cli.build_parser()[1]["post"].parse_args(["--jobs", "3", "m.json"])
    alone = cli.command_parser("post", "upload_to_tiktok.py").parse_args(["--jobs", "3", "m.json"])
    assert vars(tree) == vars(alone)


# -- options that stand for a setting ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, argv, settings", [
    ("report", ["--reports", "out", "--s3-uri", "s3://b/p", "--s3-endpoint-url", "http://127.0.0.1:9"],
     {"REPORTS_DIR": "out", "REPORTS_S3_URI": "s3://b/p", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"}),
    ("report", [], {}),
    ("app", ["--host", "0.0.0.0", "--port", "8123", "--emulator-port", "8124"],
     {"HOST": "0.0.0.0", "PORT": "8123", "TIKTOK_EMULATOR_PORT": "8124"}),
    ("transcribe", ["--transcripts", "t", "x.mp4"], {"TRANSCRIPTS_DIR": "t"}),
    ("post", ["--grace", "30m"], {"POST_GRACE": "1800.0"}),
])
def test_options_stand_for_their_settings(name: str, argv: list[str], settings: dict[str, str]) -> None:
    from tiktok.options import given_settings

    parser = cli.command_parser(name, name)
    assert given_settings(parser, parser.parse_args(argv)) == settings


def test_a_given_option_wins_over_the_environment_and_is_checked_like_it(tmp_path: Path, capsys) -> None:
    env = {"TOKENS_FILE": str(tmp_path / "tokens.json"), "REPORTS_DIR": str(tmp_path / "from-env")}
    ctx = Context(env=env)
    code = cli.main(["report", "--s3-endpoint-url", "ftp://example.com"], context=ctx)
    err = capsys.readouterr().err
    assert code == ExitStatus.BAD_INPUT
    assert "error: AWS_ENDPOINT_URL_S3='ftp://example.com' is not a web address" in err
    ctx = Context(env=env)
    ctx.overrides["REPORTS_DIR"] = str(tmp_path / "from-option")
    assert ctx.settings.report.reports_dir == tmp_path / "from-option"
    assert Context(env=env).settings.report.reports_dir == tmp_path / "from-env"


# -- one wrapper from typed errors to exit codes -------------------------------------------------------------------

ERRORS = [
    (ConfigError("TOKENS_FILE is a folder"), ExitStatus.BAD_INPUT),
    (TokenFileError("user_tokens.json", "not JSON"), ExitStatus.BAD_INPUT),
    (AccountNotFound("nobody", "user_tokens.json"), ExitStatus.BAD_INPUT),
    (StoreError("tiktok.db is locked"), ExitStatus.BAD_INPUT),
    (ChangeRefused("post 3 is posted"), ExitStatus.BAD_INPUT),
    (StoreUnavailable("the database went away"), ExitStatus.TRY_LATER),
    (DatabaseUnavailable("no answer from 127.0.0.1:5432"), ExitStatus.TRY_LATER),
    (ServerError("internal_error", "TikTok is down", http_status=500), ExitStatus.TRY_LATER),
    (RelinkNeeded("ada", "TikTok refused the refresh token"), ExitStatus.RELINK_NEEDED),
    (APIError("spam_risk", "refused"), ExitStatus.FAILED),
]


@pytest.mark.parametrize("error, code", ERRORS, ids=[type(e).__name__ for e, _ in ERRORS])
def test_each_kind_of_error_is_one_exit_code(error: TikTokError, code: ExitStatus) -> None:
    assert status_for(error) == code


@pytest.mark.parametrize("error, code", ERRORS, ids=[type(e).__name__ for e, _ in ERRORS])
def test_the_wrapper_turns_a_commands_error_into_a_line_and_its_code(error, code, capsys) -> None:
    def run(opts, ctx):
        raise error

    assert cli.run_command(SimpleNamespace(run=run), SimpleNamespace(), Context(env={})) == code
    out, err = capsys.readouterr()
    assert out == "" and err == f"error: {error}\n"


def test_the_wrapper_lets_everything_else_through() -> None:
    def run(opts, ctx):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        cli.run_command(SimpleNamespace(run=run), SimpleNamespace(), Context(env={}))


def test_a_real_commands_typed_error_is_said_once_with_its_code(tmp_path: Path, capsys) -> None:
    tokens = tmp_path / "user_tokens.json"
    tokens.write_text("{ not json")
    code = cli.main(["accounts"], context=Context(env={"TOKENS_FILE": str(tokens)}))
    out, err = capsys.readouterr()
    assert code == ExitStatus.BAD_INPUT and out == ""
    assert err.startswith(f"[emulator] error: {tokens}") and err.count("error:") == 1 and "Traceback" not in err


# -- one reader of the environment ---------------------------------------------------------------------------------

def environment_reads(path: Path) -> list[int]:
    """Lines of ``path`` that read the process environment: os.environ, os.getenv, os.environb."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return sorted({node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")
                   and not (isinstance(node.value, ast.Name) and node.value.id == "request")  # a WSGI request's
                   or isinstance(node, ast.alias) and node.name in ("environ", "getenv", "environb")})


def test_only_config_reads_the_environment() -> None:
    """``grep -rn os.environ tiktok/`` as a test: config.py, and the emulator's own settings (it shares nothing)."""
    readers = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if environment_reads(p)}
    assert {r for r in readers if not r.startswith("emulator/")} == {"config.py"}


def test_the_reader_of_reads_sees_them(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    for source, found in [("import os\nx = os.environ.get('TZ')\n", [2]), ("from os import getenv\n", [1]),
                          ("import os\nx = os.environb\n", [2]), ("environment = {}\n", [])]:
        probe.write_text(source)
        assert environment_reads(probe) == found


def test_settings_come_in_sections_and_keep_their_short_names(tmp_path: Path) -> None:
    settings = load_settings({"TOKENS_FILE": str(tmp_path / "t.json"), "PORT": "8123", "REPORTS_DIR": "r",
                              "ASSEMBLYAI_API_KEY": "aai-key", "ASSEMBLYAI_POLLING_INTERVAL": "2.5",
                              "TRANSCRIPTS_DIR": "tr", "TZ": ":Europe/Berlin", "XDG_CACHE_HOME": str(tmp_path),
                              "TOKENS_KEY": "k1", "TOKENS_NEW_KEY": "k2", "WORKER_STALLED_S": "40",
                              "DATABASE_URL": "postgresql://u:db-pass@127.0.0.1/x", "APP_PASSWORD": "app-pass"})
    assert (settings.app.port, settings.port) == (8123, 8123)
    assert settings.store.tokens_path == settings.tokens_path == tmp_path / "t.json"
    assert settings.report.reports_dir == Path("r") and settings.transcription.transcripts_dir == Path("tr")
    assert (settings.transcription.assemblyai_api_key, settings.transcription.polling_interval_s) == ("aai-key", 2.5)
    assert (settings.app.time_zone, settings.app.cache_dir) == ("Europe/Berlin", tmp_path)
    assert settings.worker.stalled_s == 40.0 and settings.store.tokens_new_key == "k2"
    assert settings.tiktok.emulated and settings.emulated and settings.environment == "emulator"
    shown = repr(settings)
    for secret in ("aai-key", "k1", "k2", "db-pass", "app-pass", "emulator-client-secret"):
        assert secret not in shown


@pytest.mark.parametrize("env, needle", [
    ({"ASSEMBLYAI_POLLING_INTERVAL": "soon"}, "ASSEMBLYAI_POLLING_INTERVAL='soon' is not a number of seconds"),
    ({"ASSEMBLYAI_POLLING_INTERVAL": "0"}, "ASSEMBLYAI_POLLING_INTERVAL must be more than 0 seconds"),
    ({"ASSEMBLYAI_BASE_URL": "api.assemblyai.com"}, "ASSEMBLYAI_BASE_URL='api.assemblyai.com' is not a web address"),
    ({"AWS_ENDPOINT_URL_S3": "minio:9000"}, "AWS_ENDPOINT_URL_S3='minio:9000' is not a web address"),
])
def test_the_settings_read_elsewhere_before_are_checked_at_start_up_too(env, needle) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(env)


def test_a_context_reads_the_settings_once_and_builds_the_services_once(tmp_path: Path) -> None:
    ctx = Context(env={"TOKENS_FILE": str(tmp_path / "tokens.json")})
    assert ctx.prefix == ""  # nothing read yet
    assert ctx.settings is ctx.settings and ctx.services is ctx.services
    assert ctx.services.settings is ctx.settings and ctx.prefix == "[emulator] "


# -- the worker's settings come with each job ----------------------------------------------------------------------

def job_context(settings, task: str):
    import procrastinate
    from procrastinate import jobs, testing

    from tiktok.jobs.tasks import job_context as extra

    app = procrastinate.App(connector=testing.InMemoryConnector())
    job = jobs.Job(id=1, queue="default", lock=None, queueing_lock=None, task_name=task)
    return procrastinate.JobContext(app=app, job=job, start_timestamp=time.time(), abort_reason=lambda: None,
                                    additional_context=extra(settings))


def test_the_worker_s_jobs_take_their_settings_from_the_job_context(emulator, store, oauth, tokens_path,
                                                                    tmp_path) -> None:
    """Two settings, two contexts, one process: each job uses its own (nothing is kept in a module global); the daily
    report job writes the report through the report's own function, where REPORTS_DIR says."""
    from tiktok.jobs import tasks

    link_account(emulator.url, store, oauth, "0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68",
                 scopes=("user.info.basic", "user.info.profile", "user.info.stats", "video.list"))
    base = {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url}
    linked = load_settings({**base, "TOKENS_FILE": str(tokens_path), "REPORTS_DIR": str(tmp_path / "reports")})
    empty = load_settings({**base, "TOKENS_FILE": str(tmp_path / "none.json")})
    assert tasks.refresh_tokens(job_context(linked, "tiktok:refresh_tokens"), 0) == "1 SKIPPED"
    assert tasks.refresh_tokens(job_context(empty, "tiktok:refresh_tokens"), 0) == "no accounts"
    assert tasks.daily_report(job_context(linked, "tiktok:daily_report"), 0).startswith("daily report written: ")
    (day,) = (tmp_path / "reports").iterdir()
    assert (day / "summary.csv").is_file()
    assert not any(isinstance(value, dict) and "settings" in value for value in vars(tasks).values())


def test_the_worker_s_tasks_ask_for_the_job_context(tmp_path: Path) -> None:
    from tiktok.jobs.tasks import build_app

    settings = load_settings({"TOKENS_FILE": str(tmp_path / "t.json"), "DATABASE_URL": "postgresql://127.0.0.1/x",
                              "WORKER_REPORT_CRON": "0 6 * * *"})
    app = build_app(settings)
    tasks = {name: task for name, task in app.tasks.items() if name.startswith("tiktok:")}
    assert set(tasks) == {"tiktok:post_entry", "tiktok:dispatch", "tiktok:refresh_tokens", "tiktok:daily_report",
                          "tiktok:deliver_alerts", "tiktok:transcribe_video"}
    assert all(task.pass_context for task in tasks.values())
    assert {p.cron for p in app.periodic_registry.periodic_tasks.values()} >= {"0 6 * * *"}
