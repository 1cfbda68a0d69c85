"""The dashboard at ``/`` of ``crosspost serve`` (only when ``CROSSPOST_DASHBOARD_PASSWORD`` is set).

Security: one password, kept in memory only as its SHA-256 and compared with ``hmac.compare_digest``;
after 5 wrong passwords from one client within 15 minutes the login answers 429 until the window ends.
A session is a cookie signed with itsdangerous (HttpOnly, SameSite=Strict, Secure when the request came
over https, directly or per ``X-Forwarded-Proto``), valid 12 hours. Every form carries a CSRF token
bound to the session (the login form: a signed, short-lived one); a POST without the right one is 403.
Every page and action but the login needs a session. The webhook endpoints are not under this: they
keep their own signatures.

Actions use the store API and the CLI's own helpers (``parse_when``, ``is_past``, ``store.enqueue``,
``store.cancel``, ``store.retry``, ``store.reschedule_queued``), so a job queued or moved here is the job
``crosspost schedule`` or ``crosspost retry --at`` would queue or move. The Health page reads the workers'
heartbeats (bot/heartbeat.py) and warns when none is running.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot import platforms
from bot.errors import CrosspostError
from bot.heartbeat import ago, seen_workers
from bot.web import environment

COOKIE = "crosspost_session"
SESSION_SECONDS = 12 * 3600
LOGIN_FORM_SECONDS = 3600
MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60.0

Handler = Callable[[Request], Awaitable[Response]]


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA time zone name this machine knows, UTC first: the choices of a time zone select."""
    from zoneinfo import available_timezones

    return ("UTC", *sorted(z for z in available_timezones() if z != "UTC" and "/" in z))


class LoginThrottle:
    """Wrong passwords per client address; the 6th try within the window is refused (429)."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked_for(self, client: str) -> float:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < FAILURE_WINDOW]
            self._failures[client] = recent
            return FAILURE_WINDOW - (now - recent[0]) if len(recent) >= MAX_FAILURES else 0.0

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


class Dashboard:
    def __init__(self, settings: Any, store: Any, *, password: str, secret: str | None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.now = now or (lambda: datetime.now(UTC))  # judges heartbeats and past times (tests replace it)
        self._password_hash = hashlib.sha256(password.encode("utf-8")).digest()
        self._signer = URLSafeTimedSerializer(secret or secrets.token_urlsafe(32), salt="crosspost-dashboard")
        self.throttle = LoginThrottle()

    # --- sessions and tokens ---------------------------------------------------------------------
    def session(self, request: Request) -> dict[str, Any] | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._signer.loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and data.get("csrf") else None

    def _login_token(self) -> str:
        return str(self._signer.dumps({"login": secrets.token_urlsafe(8)}, salt="login"))

    def _login_token_ok(self, token: str) -> bool:
        try:
            self._signer.loads(token, salt="login", max_age=LOGIN_FORM_SECONDS)
        except BadSignature:
            return False
        return True

    @staticmethod
    def _secure(request: Request) -> bool:
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return (proto or request.url.scheme) == "https"

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = self.session(request) or {}
        html = environment().get_template(template).render(csrf=session.get("csrf", ""), page=template, **context)
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; "
                                                       "script-src 'unsafe-inline'; img-src data:; form-action "
                                                       "'self'; frame-ancestors 'none'")
        return response

    # --- guards -----------------------------------------------------------------------------------
    def guarded(self, handler: Handler) -> Handler:
        """Only with a session; a POST only with the session's CSRF token (else 403)."""

        async def endpoint(request: Request) -> Response:
            session = self.session(request)
            if session is None:
                if request.method == "GET":
                    return RedirectResponse("/login", status_code=303)
                return self.page(request, "message.html", 403, title="Not logged in",
                                 text="Log in first: this action needs a session.")
            if request.method == "POST":
                form = await request.form()
                token = str(form.get("csrf") or "")
                if not hmac.compare_digest(token.encode(), str(session["csrf"]).encode()):
                    return self.page(request, "message.html", 403, title="Refused",
                                     text="The form's security token is missing or stale. Reload the page and "
                                          "try again.")
            return await handler(request)

        return endpoint

    # --- login ------------------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        if request.method == "GET":
            return self.page(request, "login.html", login_token=self._login_token(), error=None)
        wait = self.throttle.blocked_for(client)
        if wait:
            response = self.page(request, "login.html", 429, login_token=self._login_token(),
                                 error=f"Too many wrong passwords. Try again in {int(wait // 60) + 1} minutes.")
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        form = await request.form()
        if not self._login_token_ok(str(form.get("csrf") or "")):
            return self.page(request, "login.html", 403, login_token=self._login_token(),
                             error="The form was stale. Please try again.")
        given = hashlib.sha256(str(form.get("password") or "").encode("utf-8")).digest()
        if not hmac.compare_digest(given, self._password_hash):
            self.throttle.failed(client)
            return self.page(request, "login.html", 401, login_token=self._login_token(), error="Wrong password.")
        self.throttle.succeeded(client)
        ok = RedirectResponse("/", status_code=303)
        ok.set_cookie(COOKIE, self._signer.dumps({"csrf": secrets.token_urlsafe(24)}), max_age=SESSION_SECONDS,
                            httponly=True, samesite="strict", secure=self._secure(request), path="/")
        return ok

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- compose ----------------------------------------------------------------------------------
    def _targets(self) -> list[dict[str, Any]]:
        configured = {a.platform for a in self.settings.accounts}
        return [{"name": n, "label": platforms.get(n).label, "configured": n in configured} for n in platforms.names()]

    async def compose(self, request: Request) -> Response:
        if request.method == "GET":
            return self.page(request, "compose.html", targets=self._targets(), form={}, preview=None, error=None,
                             notice=None)
        form = {k: str(v) for k, v in (await request.form()).multi_items() if k != "target"}
        chosen = [str(t) for t in (await request.form()).getlist("target") if platforms.is_platform(str(t))]
        form["targets"] = ",".join(chosen)
        action = form.get("action", "preview")
        try:
            article = await run_in_threadpool(self._article, form)
            if action == "preview":
                from bot.planning import dry_run_plan
                from bot.web.preview import view

                plan = await run_in_threadpool(dry_run_plan, article, self.settings, chosen or list(platforms.names()),
                                               thread=bool(form.get("thread")))
                return self.page(request, "compose.html", targets=self._targets(), form=form,
                                 preview=view(plan, self.settings), error=None, notice=None)
            if not chosen:
                raise CrosspostError("pick at least one target")
            from bot.triggers import parse_when

            run_at = parse_when(form.get("at") or None, None, form.get("tz") or "UTC") if action == "schedule" \
                else datetime.now(UTC)
            job, _ = await run_in_threadpool(lambda: self.store.enqueue(
                article=article.to_dict(), article_key=article.key, targets=chosen, run_at=run_at))
        except CrosspostError as exc:
            return self.page(request, "compose.html", 400, targets=self._targets(), form=form, preview=None,
                             error=str(exc), notice=None)
        when = "now" if action != "schedule" else f"at {run_at:%Y-%m-%d %H:%M} UTC"
        return self.page(request, "compose.html", targets=self._targets(), form={}, preview=None, error=None,
                         notice=f"Job {job.id} queued {when} for {', '.join(chosen)}.")

    def _article(self, form: dict[str, str]) -> Any:
        from dataclasses import replace

        from bot.errors import InputError
        from bot.load import load_article, parse_article

        text, source = form.get("text", "").strip(), form.get("source", "").strip()
        if source:
            article = load_article(source, allow_private=self.settings.allow_private_network,
                                   timeout=self.settings.timeout)
        elif text:
            article = parse_article(text.encode("utf-8"), fmt=None, origin="the pasted text")
        else:
            raise InputError("paste the article's text or give its URL")
        link = form.get("url", "").strip()
        article = article.with_overrides(url=link or None)
        if not article.url:
            raise InputError("the article has no canonical link: fill in the link field")
        return replace(article, thread=True) if form.get("thread") else article

    # --- queue ------------------------------------------------------------------------------------
    async def queue(self, request: Request) -> Response:
        jobs = await run_in_threadpool(self.store.list_jobs, include_finished=True)
        return self.page(request, "queue.html", jobs=jobs, notice=request.query_params.get("notice"))

    async def job_action(self, request: Request) -> Response:
        job_id = int(request.path_params["job_id"])
        action = request.path_params["action"]
        if action not in ("cancel", "retry"):
            return self.page(request, "message.html", 404, title="Not found", text=f"No action {action!r}.")
        if action == "cancel":
            done = await run_in_threadpool(self.store.cancel, job_id)
        else:  # as crosspost retry: a cancelled job keeps its time (next week's post must not go out today)
            done = await run_in_threadpool(lambda: self.store.retry(job_id, due_now=False))
        verb = {"cancel": "cancelled", "retry": "queued again"}[action]
        notice = f"Job {job_id} {verb}." if done else f"Job {job_id} cannot be {verb} in its state."
        from urllib.parse import quote

        return RedirectResponse(f"/queue?notice={quote(notice)}", status_code=303)

    async def reschedule(self, request: Request) -> Response:
        """GET: a form (date and time, and a time zone select) to move a job; POST: move it there."""
        job = await run_in_threadpool(self.store.get_job, int(request.path_params["job_id"]))
        if job is None:
            return self.page(request, "message.html", 404, title="Not found", text="There is no such job.")
        if request.method == "GET":
            zone = request.query_params.get("tz", "")
            return self._reschedule_form(request, job, zone if zone in time_zones() else "UTC", None, None)
        form = await request.form()
        at, zone = str(form.get("at") or "").strip(), str(form.get("tz") or "UTC")
        from bot.triggers import is_past, parse_when, zone_named

        try:
            if not at:
                raise CrosspostError("pick the date and time to run it at")
            run_at = parse_when(at, None, zone)
            if is_past(run_at, self.now()):
                raise CrosspostError(f"{at.replace('T', ' ')} in {zone} has passed ({run_at:%Y-%m-%d %H:%M} UTC): "
                                     "pick a later time, or use Retry on the queue page to run it now")
        except CrosspostError as exc:
            return self._reschedule_form(request, job, zone, at, str(exc), status=400)
        if not await run_in_threadpool(self.store.reschedule_queued, job.id, run_at):
            notice = f"Job {job.id} cannot be rescheduled: it is running or finished."
        else:
            local = run_at.astimezone(zone_named(zone))
            notice = (f"Job {job.id} rescheduled to {local:%Y-%m-%d %H:%M} {zone} "
                      f"({run_at:%Y-%m-%d %H:%M} UTC).")
        from urllib.parse import quote

        return RedirectResponse(f"/queue?notice={quote(notice)}", status_code=303)

    def _reschedule_form(self, request: Request, job: Any, zone: str, at: str | None, error: str | None,
                         status: int = 200) -> HTMLResponse:
        from bot.triggers import zone_named

        if at is None:  # the job's current due time, on the chosen zone's clock
            try:
                at = job.run_at.astimezone(zone_named(zone)).strftime("%Y-%m-%dT%H:%M")
            except ValueError:
                at = job.run_at.strftime("%Y-%m-%dT%H:%M")
        return self.page(request, "reschedule.html", status, job=job, at=at, zone=zone, zones=time_zones(),
                         zone_given="tz" in request.query_params, error=error)

    # --- posts and health -------------------------------------------------------------------------
    async def posts(self, request: Request) -> Response:
        platform = request.query_params.get("platform", "")
        state = request.query_params.get("state", "")
        rows = await run_in_threadpool(self.store.ledger_rows)
        rows = [r for r in rows if (not platform or r.platform == platform) and (not state or r.state == state)]
        rows.sort(key=lambda r: r.updated_at, reverse=True)
        return self.page(request, "posts.html", rows=rows, platform=platform, state=state,
                         platforms=platforms.names(), states=("published", "failed", "pending", "sending", "unknown"))

    async def health(self, request: Request) -> Response:
        return self.page(request, "health.html", **(await run_in_threadpool(self._health)))

    def _health(self) -> dict[str, Any]:
        from bot.publish import pace_key

        rows = self.store.ledger_rows()
        accounts = []
        for a in self.settings.accounts:
            mine = [r for r in rows if r.platform == a.platform and r.account == a.account]
            ok = [r for r in mine if r.state == "published"]
            bad = [r for r in mine if r.last_error]
            quota = self.store.kv_get(pace_key(a.platform, a.account))
            accounts.append({
                "platform": platforms.get(a.platform).label, "account": a.account, "server": a.base_url,
                "credentials": all(a.credentials.values()),
                "quota": f"{quota['remaining']} until {quota['reset_at']}" if isinstance(quota, dict) else "unknown",
                "last_success": max((r.updated_at for r in ok), default=None),
                "last_error": max(bad, key=lambda r: r.updated_at).last_error if bad else None,
            })
        configured = {a.platform for a in self.settings.accounts}
        missing = [p.label for p in platforms.all_platforms() if p.name not in configured]
        jobs = self.store.list_jobs()
        running = [j for j in jobs if j.state == "running"]
        now = self.now()
        workers = [{"name": w.name, "host": w.host, "pid": w.pid, "jobs_run": w.jobs_run, "running": w.running(now),
                    "stopped": w.stopped, "seen": ago((now - w.beat_at).total_seconds()),
                    "up": ago((now - w.started_at).total_seconds())}
                   for w in seen_workers(self.store, now)]
        return {"accounts": accounts, "missing": missing, "counts": self.store.job_counts(), "running": running,
                "workers": workers, "no_worker": not any(w["running"] for w in workers)}


def mount(app: Starlette, settings: Any, store: Any, *, password: str, secret: str | None) -> Dashboard:
    """Add the dashboard's routes to ``app`` (after the webhook's, which keep their own paths); the
    Dashboard is kept as ``app.state.dashboard``."""
    board = Dashboard(settings, store, password=password, secret=secret)
    app.state.dashboard = board
    g = board.guarded
    app.router.routes.extend([
        Route("/login", board.login, methods=["GET", "POST"]),
        Route("/logout", g(board.logout), methods=["POST"]),
        Route("/", g(board.compose), methods=["GET", "POST"]),
        Route("/queue", g(board.queue), methods=["GET"]),
        Route("/queue/{job_id:int}/reschedule", g(board.reschedule), methods=["GET", "POST"]),
        Route("/queue/{job_id:int}/{action:str}", g(board.job_action), methods=["POST"]),
        Route("/posts", g(board.posts), methods=["GET"]),
        Route("/health", g(board.health), methods=["GET"]),
    ])
    return board
