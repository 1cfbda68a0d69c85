"""Keeping the SQLite store private to its owner: the state directory 0700, the database files 0600.

The store holds Bluesky sessions (access and refresh JWTs that post as the account), account ids and
each article's history, so no other user of the machine may read it. SQLite gives its ``-wal``,
``-shm`` and ``-journal`` files the mode of the database file when it creates them, so creating the
database 0600 before SQLite opens it covers the files that appear later, on the first write; files
left looser by an older version or a copy are tightened, with one warning saying so (once tightened,
there is nothing to say the next time).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.errors import ConfigError
from bot.logs import get_logger

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")
"""The database file and the ones SQLite keeps beside it."""

log = get_logger("crosspost.store")


def make_private_dir(path: Path) -> None:
    """Create ``path`` (the default state directory) 0700, or tighten it if it is looser."""
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the state directory {path}: {exc.strerror}; set DATABASE_URL to a writable place"
        ) from exc
    _tighten(path, PRIVATE_DIR)


def make_private_files(database: Path) -> None:
    """Create ``database`` 0600 if missing, and tighten it and its companion files if looser.

    An existing database is never opened here: closing any descriptor of a file drops every POSIX lock
    this process holds on it, including those of SQLite connections already open (a corruption risk).
    """
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(
            f"cannot create database {database}: {exc.strerror}; set DATABASE_URL to a writable place"
        ) from exc
    for suffix in SQLITE_SUFFIXES:
        _tighten(database.with_name(database.name + suffix), PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    """Take away every permission beyond ``mode`` (a missing file is fine: SQLite may not need it)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & ~mode == 0:
        return
    try:
        os.chmod(path, current & mode)
    except OSError as exc:
        log.warning("store_permissions_not_fixed", extra={"path": str(path), "mode": f"{current:o}",
                                                          "error": exc.strerror})
        return
    log.warning("store_permissions_tightened", extra={"path": str(path), "was": f"{current:o}",
                                                      "now": f"{current & mode:o}"})
