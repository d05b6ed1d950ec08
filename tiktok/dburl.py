"""DATABASE_URL read once, the way libpq reads it, and checked so that no part of its password can reach a message.

A PostgreSQL URL is ``postgresql://[user[:password]@][host[:port][,host[:port]...]][/database][?name=value&...]``
(PostgreSQL's manual, "Connection URIs"), every part percent-encoded. A password holding ``/``, ``?``, ``#``, ``@`` or
``%`` that is *not* encoded splits the URL in the wrong place: Python's urllib then takes the start of the password
for a port (``ValueError: Port could not be cast to integer value as 'abc'``), and libpq for a host name or a bad
escape, and each quotes it in its error. :func:`parse_database_url` refuses such a URL before anything else reads it,
with a :class:`~tiktok.errors.ConfigError` that says what is wrong and how to encode the password, and that quotes
no part of the URL after its scheme (only the scheme, user name, host, port and database are ever shown, and only
by :func:`DatabaseUrl.describe` of a URL that passed).

What the check refuses, and why each would misread:

- a ``#``: urllib ends the URL there (a fragment), libpq does not;
- an ``@`` after the host (in the path or query): the user name or password held a ``/``, ``?`` or ``#``, which ended
  the host part early for both readers;
- more than one ``@`` before the host: the password held an ``@``; libpq splits at the first, urllib at the last;
- ``[`` or ``]`` in the user name or password: urllib reads them as an IPv6 address;
- a ``%`` not followed by two hexadecimal digits, or ``%00``: libpq refuses it and quotes the whole part;
- a space or a control character: libpq refuses a space and quotes the part around it;
- ``%XX`` escapes that do not spell UTF-8 text: psycopg cannot decode what libpq read, and fails with a traceback;
- a port that is not a whole number from 1 to 65535.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, unquote_to_bytes

from tiktok.errors import ConfigError

SCHEMES = ("postgresql", "postgres")
FORM = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
ENCODE_HOWTO = ("write each special character of the user name and password as %XX: '/' as %2F, '?' as %3F, '#' as "
                "%23, '@' as %40, '%' as %25, ':' in a user name as %3A (python3 -c \"import getpass, urllib.parse; "
                "print(urllib.parse.quote(getpass.getpass(), safe=''))\" prints a password encoded)")
PROBLEMS = {
    "hash": "it holds a '#', which ends a URL",
    "at after host": "it holds an '@' after the host: the password (or user name) holds a '/', '?' or '#', which "
                     "ended the host part early",
    "two ats": "it holds more than one '@' before the host: the password (or user name) holds an '@'",
    "bracket": "the user name or password holds a '[' or ']'",
    "percent": "it holds a '%' that is not followed by two hexadecimal digits (or is %00)",
    "space": "it holds a space or a control character (write a space as %20)",
    "utf8": "its %XX escapes spell bytes that are not UTF-8 text (encode the password's UTF-8 bytes)",
    "ipv6": "a host in [brackets] is not closed, or something follows it other than :PORT",
    "port": "its port is not a whole number from 1 to 65535 (a password holding '/', '?' or '#' makes part of it "
            "look like a port)",
}
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,20}")


@dataclass(frozen=True)
class DatabaseUrl:
    """What messages may say about a checked DATABASE_URL: never the user's password."""

    hosts: tuple[tuple[str, int | None], ...]  # ("", None): the local socket
    database: str

    def describe(self) -> str:
        """``PostgreSQL database "tiktok" on db.example:5432``."""
        where = ", ".join(f"{host or 'local socket'}{f':{port}' if port else ''}" for host, port in self.hosts)
        return f'PostgreSQL database "{self.database or "(default)"}" on {where or "local socket"}'


def parse_database_url(raw: str) -> DatabaseUrl:
    """``raw`` read as libpq reads it; ConfigError naming the problem (never any part of the URL after its scheme)
    when it is not a PostgreSQL URL, or when urllib and libpq could read it differently."""
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        said = f"it starts with {scheme}://" if sep and _SCHEME.fullmatch(scheme) else "it does not start with one"
        raise ConfigError(f"DATABASE_URL must be a PostgreSQL address: {FORM} ({said})")
    if "#" in rest:
        _refuse("hash")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in tail:
        _refuse("at after host")
    userinfo, at, hostspec = authority.rpartition("@")
    if "@" in userinfo:
        _refuse("two ats")
    if at and ("[" in userinfo or "]" in userinfo):
        _refuse("bracket")
    if _BAD_ESCAPE.search(rest):
        _refuse("percent")
    try:
        unquote_to_bytes(rest).decode("utf-8")
    except UnicodeDecodeError:
        _refuse("utf8")
    if any(ch.isspace() and ch.isascii() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in rest):
        _refuse("space")
    hosts = tuple(_host(part) for part in hostspec.split(",")) if hostspec else (("", None),)
    path, _, query = tail.partition("?")
    database = unquote(path[1:]) if path.startswith("/") else ""
    params = dict(parse_qsl(query, keep_blank_values=True))  # host=, port=, dbname= stand in for the URL's parts
    if params.get("host"):
        ports = (params.get("port") or "").split(",")
        hosts = tuple((host, _port(ports[i] if i < len(ports) else ports[-1]))
                      for i, host in enumerate(params["host"].split(",")))
    elif params.get("port"):
        hosts = tuple((host, _port(params["port"])) for host, _ in hosts)
    return DatabaseUrl(hosts=hosts, database=params.get("dbname") or database)


def _host(part: str) -> tuple[str, int | None]:
    if part.startswith("["):  # an IPv6 address
        end = part.find("]")
        if end < 0 or (part[end + 1:] and not part[end + 1:].startswith(":")):
            _refuse("ipv6")
        host, port = part[: end + 1], part[end + 2:]
    else:
        host, _, port = part.partition(":")
    return unquote(host), _port(port)


def _port(raw: str) -> int | None:
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        _refuse("port")
    return int(raw)


def refusal(problem: str) -> str:
    """The sentence for one of PROBLEMS: only this module's own words, nothing of the URL."""
    return (f"DATABASE_URL cannot be read: {PROBLEMS[problem]}. Percent-encode the user name and password: "
            f"{ENCODE_HOWTO}. (The URL is not shown: it holds the password.)")


def _refuse(problem: str) -> None:
    raise ConfigError(refusal(problem))
