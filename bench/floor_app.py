"""The floor for webhook ingest: the least a signed-webhook receiver can do on this machine.

A minimal Starlette app: verify the Ghost HMAC signature, parse the JSON, and commit one row to a
SQLite file (WAL, ``synchronous = FULL``, one transaction per request), then answer 202. crosspost's
ingest is measured against it in the same run (``bench_ingest.py``).

    .venv/bin/python bench/floor_app.py PORT DATABASE_FILE     (CROSSPOST_WEBHOOK_SECRET in the environment)
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.signatures import GHOST_HEADER, SignatureError, verify_ghost


def create_app(secret: str, path: str) -> Starlette:
    local = threading.local()
    write = threading.Lock()  # writers queue here, not in SQLite's sleeping busy handler

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("CREATE TABLE IF NOT EXISTS hooks (id INTEGER PRIMARY KEY, post_id TEXT UNIQUE, body TEXT)")
        return conn

    def handle(body: bytes, signature: str | None) -> tuple[int, dict[str, object]]:
        try:
            verify_ghost(secret, body, signature)
        except SignatureError as exc:
            return 401, {"error": str(exc)}
        try:
            data = json.loads(body)
            post_id = data["post"]["current"]["id"]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "not a Ghost payload"}
        conn = connection()
        with write:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute("INSERT INTO hooks (post_id, body) VALUES (?, ?) ON CONFLICT (post_id) DO NOTHING",
                               (post_id, body.decode("utf-8")))
            conn.execute("COMMIT")
        return (202, {"id": cur.lastrowid}) if cur.rowcount else (200, {"exists": post_id})

    async def hook(request: Request) -> Response:
        status, reply = await run_in_threadpool(handle, await request.body(), request.headers.get(GHOST_HEADER))
        return JSONResponse(reply, status_code=status)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/hooks/ghost", hook, methods=["POST"]), Route("/healthz", healthz)])


if __name__ == "__main__":
    port, database = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(create_app(os.environ["CROSSPOST_WEBHOOK_SECRET"], database), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)
