"""The daemon's HTTP face on `http.listen`: the console (HTML pages, each with its `/api/` JSON
twin), `/healthz` for liveness probes and `/metrics` for Prometheus.

Safety is in the middleware, in front of every handler: with no login configured only loopback
host names are answered (a DNS-rebinding page cannot reach it); with one, every page but the
login wants a session cookie or a bearer token; every form POST carries a CSRF token and JSON
POSTs must say they are JSON (a cross-site form cannot); pages forbid inline scripts (CSP) and
Jinja2 escapes everything that comes from feeds.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from monitor.config.config import HttpAuthConfig
from monitor.core.listen import is_loopback, parse_listen
from monitor.web import auth, limits, pages, tester, views
from monitor.web.console import (
    BACKTESTS,
    CONSOLE,
    CSRF_COOKIE,
    LOGINS,
    SESSION_COOKIE,
    SESSIONS,
    TEMPLATES,
    Console,
    Handler,
    is_api,
    redirect,
    refuse,
    render,
    templates,
)

log = logging.getLogger(__name__)

PUBLIC = ("/healthz", "/metrics", "/login", "/static/")
RULE_FEEDS = "/flux/regles/"  # a rule's feed: a session, the bearer token, or its own token
MAX_BODY = 2 * 1024 * 1024  # a pasted article, a rule file
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def build(console: Console) -> web.Application:
    app = web.Application(middlewares=[limits.deadlines, _guard], client_max_size=MAX_BODY)
    app[limits.CONNECTIONS] = limits.Connections()
    app[CONSOLE] = console
    http_config = console.config().http
    auth_config = http_config.auth if http_config else None
    app[SESSIONS] = auth.Sessions(auth_config.session if auth_config else 0.0)
    app[LOGINS] = auth.Logins()
    app[BACKTESTS] = tester.Backtests()
    app[TEMPLATES] = templates()
    app.on_response_prepare.append(_headers)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/", _home)
    app.router.add_get("/login", _login_page)
    app.router.add_post("/login", _login)
    app.router.add_post("/logout", _logout)
    app.router.add_static("/static/", _static_dir(), append_version=False)
    for path, template, view in [
            ("/flux", "flux.html", pages.feeds), ("/flux/{id:\\d+}", "feed.html", pages.feed),
            ("/sujets", "sujets.html", pages.stories), ("/sujets/{id:\\d+}", "sujet.html", pages.story),
            ("/alertes", "alertes.html", pages.alerts), ("/regles", "regles.html", pages.rules),
            ("/historique/{id}", "historique.html", pages.backtest)]:
        app.router.add_get(path, pages.page(template, view))
        app.router.add_get(f"/api{path}", pages.api(view))
    app.router.add_get("/flux/regles/{file}", pages.rule_feed)
    app.router.add_get("/testeur", pages.tester_page)
    app.router.add_post("/testeur", pages.tester_page)
    app.router.add_post("/api/testeur", pages.tester_api)
    app.router.add_post("/historique", pages.backtest_start)
    app.router.add_post("/api/historique", pages.backtest_start)
    app.router.add_post("/alertes/{id:\\d+}/relancer", pages.retry)
    app.router.add_post("/api/alertes/{id:\\d+}/relancer", pages.retry)
    app.router.add_post("/sujets/{id:\\d+}/sourdine", pages.mute)
    app.router.add_post("/api/sujets/{id:\\d+}/sourdine", pages.mute)
    return app


def _static_dir() -> Any:
    from importlib.resources import files

    return files("monitor.web") / "static"


class ConsoleServer:
    """The aiohttp app on the daemon's own event loop."""

    def __init__(self, listen: str, console: Console) -> None:
        self._host, self._port = parse_listen(listen)
        self._app = build(console)
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        assert self._runner is not None
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False,
                                     shutdown_timeout=2.0)
        await self._runner.setup()
        await limits.GuardedSite(self._runner, self._host, self._port,
                                 self._app[limits.CONNECTIONS]).start()
        log.info("console on http://%s:%d/ (and /healthz, /metrics)",
                 self._host if ":" not in self._host else f"[{self._host}]", self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# -- safety ------------------------------------------------------------------------------------

def _bearer(request: web.Request, console: Console) -> bool:
    header = request.headers.get("Authorization", "")
    config = console.config().http
    return bool(header.startswith("Bearer ") and config and config.auth
                and auth.token_ok(config.auth.token, header[7:].strip()))


def _feed_token(request: web.Request, login: HttpAuthConfig | None) -> bool:
    """A rule's feed opened by its own token (`?jeton=…`): readers that cannot log in."""
    if login is None or request.method != "GET" or not request.path.startswith(RULE_FEEDS):
        return False
    rule = request.path.removeprefix(RULE_FEEDS).rpartition(".")[0]
    return auth.token_ok(auth.feed_token(login, rule), request.query.get("jeton", ""))


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await _guarded(request, handler)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    console = request.app[CONSOLE]
    http = console.config().http
    login = http.auth if http else None
    if login is None and not is_loopback((request.host or "").rsplit(":", 1)[0].strip("[]")):
        return refuse(request, 403, "this console answers on a loopback address only (set "
                                     "http.auth to open it to others)")
    public = request.path.startswith(PUBLIC)
    bearer = _bearer(request, console) or _feed_token(request, login)
    if login is not None and not public and not bearer and not request.app[SESSIONS].valid(
            request.cookies.get(SESSION_COOKIE), console.clock()):
        if is_api(request) or request.method != "GET" or request.path.startswith(RULE_FEEDS):
            return refuse(request, 401, "login required (a session, or Authorization: Bearer; "
                                        "a rule's feed: its address with ?jeton=, on /regles)")
        return redirect(f"/login?next={quote(request.path_qs, safe='')}")
    if request.method == "POST" and not bearer:
        problem = await _forged(request)
        if problem:
            log.warning("console: %s refused: %s", request.path, problem)
            return refuse(request, 403, problem)
    try:
        return await handler(request)
    except web.HTTPException as refused:
        return refuse(request, refused.status, refused.text or refused.reason)
    except views.Refused as refused:
        return refuse(request, 400, str(refused))
    except views.NotFound as missing:
        if is_api(request):
            return web.json_response({"error": str(missing)}, status=404)
        return render(request, "erreur.html", {"message": str(missing)}, status=404)


async def _forged(request: web.Request) -> str | None:
    """Why this POST may come from another site, or None."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        return "cross-origin request"
    if request.content_type == "application/json":
        return None  # a cross-site form cannot send JSON, and we answer no CORS preflight
    form = await request.post()
    expected = request.cookies.get(CSRF_COOKIE)
    given = form.get("csrf")
    if not expected or not isinstance(given, str) or not secrets.compare_digest(expected, given):
        return "missing or wrong CSRF token (reload the page)"
    return None


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


# -- health, metrics, login ----------------------------------------------------------------------

async def _home(request: web.Request) -> web.Response:
    return redirect("/flux")


async def _healthz(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    ok, reason = await console.store.call(console.health)
    return web.Response(status=200 if ok else 503, text=f"{reason}\n")


async def _metrics(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    return web.Response(body=await console.store.call(console.metrics),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def _next(value: Any) -> str:
    """Where to go after the login: a path of this site only. « //evil.example » and
    « /\\evil.example » are other hosts to a browser, as is anything with a scheme."""
    target = str(value or "/flux")
    parts = urlsplit(target)
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or parts.scheme or parts.netloc or any(ord(char) < 32 for char in target)):
        return "/flux"
    return target


async def _login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", {"next": _next(request.query.get("next")),
                                          "error": None})


async def _login(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    http = console.config().http
    form = await request.post()
    target = _next(form.get("next"))
    if http is None or http.auth is None:
        return redirect(target)
    client = request.remote or "?"
    verdict = await request.app[LOGINS].check(http.auth, client, str(form.get("secret", "")),
                                              time.monotonic())
    if verdict.busy or verdict.wait:
        wait = max(1, round(verdict.wait))
        error = ("trop de connexions en cours : réessayez dans un instant" if verdict.busy else
                 f"trop d'essais : réessayez dans {wait} s")
        response = render(request, "login.html", {"next": target, "error": error},
                          status=503 if verdict.busy else 429)
        response.headers["Retry-After"] = str(wait)
        return response
    if not verdict.ok:
        log.warning("console: failed login from %s", client)
        return render(request, "login.html", {"next": target, "error": "mot de passe refusé"},
                      status=401)
    response = redirect(target)
    response.set_cookie(SESSION_COOKIE, request.app[SESSIONS].open(console.clock()),
                        httponly=True, samesite="Strict", secure=request.secure, path="/",
                        max_age=int(http.auth.session))
    return response


async def _logout(request: web.Request) -> web.Response:
    request.app[SESSIONS].close(request.cookies.get(SESSION_COOKIE))
    response = redirect("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


