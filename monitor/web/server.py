"""The daemon's HTTP face on `http.listen`: the console (HTML pages, each with its `/api/` JSON
twin), `/healthz` for liveness probes and `/metrics` for Prometheus.

Safety is in the middleware, in front of every handler: with no login configured only loopback
host names are answered (a DNS-rebinding page cannot reach it); with one, every page but the
login wants a session cookie or a bearer token; every form POST carries a CSRF token and JSON
POSTs must say they are JSON (a cross-site form cannot); pages forbid inline scripts (CSP) and
Jinja2 escapes everything that comes from feeds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from monitor.config.config import Config
from monitor.config.units import parse_duration
from monitor.core.errors import FetchError, InvalidInput
from monitor.core.listen import is_loopback, parse_listen
from monitor.core.rules import RuleSet
from monitor.store.roles import ConsoleStorage
from monitor.web import auth, tester, views

log = logging.getLogger(__name__)

SESSION_COOKIE = "monitor_session"
CSRF_COOKIE = "monitor_csrf"
PUBLIC = ("/healthz", "/metrics", "/login", "/static/")
MAX_BODY = 2 * 1024 * 1024  # a pasted article, a rule file
LOGIN_FAILURE_DELAY = 1.0
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """What the console reads, handed over by the daemon (getters: a reload swaps them)."""

    config: Callable[[], Config]
    rules: Callable[[], RuleSet]
    store: ConsoleStorage
    health: Callable[[], tuple[bool, str]] = lambda: (True, "ok")
    metrics: Callable[[], bytes] = lambda: b""
    reloads: views.ReloadLog = field(default_factory=views.ReloadLog)
    clock: Callable[[], float] = time.time


_KEY: web.AppKey[Console] = web.AppKey("console", Console)
_SESSIONS: web.AppKey[auth.Sessions] = web.AppKey("sessions", auth.Sessions)
_BACKTESTS: web.AppKey[tester.Backtests] = web.AppKey("backtests", tester.Backtests)
_TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates", jinja2.Environment)


def _when(value: str | None, style: str = "full") -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value)
    return moment.strftime("%d/%m %H:%M" if style == "short" else "%d/%m/%Y %H:%M")


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("monitor.web", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["when"] = _when
    env.filters["percent"] = lambda ratio: "—" if ratio is None else f"{ratio:.0%}"
    return env


def build(console: Console) -> web.Application:
    app = web.Application(middlewares=[_guard], client_max_size=MAX_BODY)
    app[_KEY] = console
    http_config = console.config().http
    auth_config = http_config.auth if http_config else None
    app[_SESSIONS] = auth.Sessions(auth_config.session if auth_config else 0.0)
    app[_BACKTESTS] = tester.Backtests()
    app[_TEMPLATES] = _templates()
    app.on_response_prepare.append(_headers)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/", _home)
    app.router.add_get("/login", _login_page)
    app.router.add_post("/login", _login)
    app.router.add_post("/logout", _logout)
    app.router.add_static("/static/", _static_dir(), append_version=False)
    for path, template, view in [
            ("/flux", "flux.html", _feeds), ("/flux/{id:\\d+}", "feed.html", _feed),
            ("/sujets", "sujets.html", _stories), ("/sujets/{id:\\d+}", "sujet.html", _story),
            ("/alertes", "alertes.html", _alerts), ("/regles", "regles.html", _rules),
            ("/historique/{id}", "historique.html", _backtest)]:
        app.router.add_get(path, _page(template, view))
        app.router.add_get(f"/api{path}", _api(view))
    app.router.add_get("/testeur", _tester_page)
    app.router.add_post("/testeur", _tester_page)
    app.router.add_post("/api/testeur", _tester_api)
    app.router.add_post("/historique", _backtest_start)
    app.router.add_post("/api/historique", _backtest_start)
    app.router.add_post("/alertes/{id:\\d+}/relancer", _retry)
    app.router.add_post("/api/alertes/{id:\\d+}/relancer", _retry)
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
        await web.TCPSite(self._runner, self._host, self._port).start()
        log.info("console on http://%s:%d/ (and /healthz, /metrics)",
                 self._host if ":" not in self._host else f"[{self._host}]", self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# -- safety ------------------------------------------------------------------------------------

def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def _bearer(request: web.Request, console: Console) -> bool:
    header = request.headers.get("Authorization", "")
    config = console.config().http
    return bool(header.startswith("Bearer ") and config and config.auth
                and auth.token_ok(config.auth.token, header[7:].strip()))


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    if _is_api(request):
        return web.json_response({"error": message}, status=status)
    return web.Response(status=status, text=f"{message}\n")


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await _guarded(request, handler)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    console = request.app[_KEY]
    http = console.config().http
    login = http.auth if http else None
    if login is None and not is_loopback((request.host or "").rsplit(":", 1)[0].strip("[]")):
        return _refuse(request, 403, "this console answers on a loopback address only (set "
                                     "http.auth to open it to others)")
    public = request.path.startswith(PUBLIC)
    bearer = _bearer(request, console)
    if login is not None and not public and not bearer and not request.app[_SESSIONS].valid(
            request.cookies.get(SESSION_COOKIE), console.clock()):
        if _is_api(request) or request.method != "GET":
            return _refuse(request, 401, "login required (a session, or Authorization: Bearer)")
        return _redirect(f"/login?next={quote(request.path_qs, safe='')}")
    if request.method == "POST" and not bearer:
        problem = await _forged(request)
        if problem:
            log.warning("console: %s refused: %s", request.path, problem)
            return _refuse(request, 403, problem)
    try:
        return await handler(request)
    except web.HTTPException as refused:
        return _refuse(request, refused.status, refused.text or refused.reason)
    except views.NotFound as missing:
        if _is_api(request):
            return web.json_response({"error": str(missing)}, status=404)
        return _render(request, "erreur.html", {"message": str(missing)}, status=404)


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


def _render(request: web.Request, template: str, data: dict[str, Any],
            status: int = 200) -> web.Response:
    """The page, with the CSRF token its forms carry (a cookie set on the first page seen)."""
    config = request.app[_KEY].config()
    token = request.cookies.get(CSRF_COOKIE)
    page = request.app[_TEMPLATES].get_template(template).render({
        "path": request.path, "query": request.query, "login": bool(config.http and
                                                                    config.http.auth),
        "timezone": config.notify.timezone, **data,
        "csrf": token or (fresh := secrets.token_urlsafe(24))})
    response = web.Response(text=page, content_type="text/html", status=status)
    if not token:
        response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="Strict",
                            secure=request.secure, path="/")
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


# -- health, metrics, login ----------------------------------------------------------------------

async def _home(request: web.Request) -> web.Response:
    return _redirect("/flux")


async def _healthz(request: web.Request) -> web.Response:
    ok, reason = request.app[_KEY].health()
    return web.Response(status=200 if ok else 503, text=f"{reason}\n")


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[_KEY].metrics(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def _next(value: Any) -> str:
    target = str(value or "/flux")
    return target if target.startswith("/") and not target.startswith("//") else "/flux"


async def _login_page(request: web.Request) -> web.Response:
    return _render(request, "login.html", {"next": _next(request.query.get("next")),
                                           "error": None})


async def _login(request: web.Request) -> web.Response:
    console = request.app[_KEY]
    http = console.config().http
    form = await request.post()
    target = _next(form.get("next"))
    if http is None or http.auth is None:
        return _redirect(target)
    if not auth.secret_ok(http.auth, str(form.get("secret", ""))):
        await asyncio.sleep(LOGIN_FAILURE_DELAY)  # guesses, slowed
        log.warning("console: failed login from %s", request.remote)
        return _render(request, "login.html", {"next": target, "error": "mot de passe refusé"},
                       status=401)
    response = _redirect(target)
    response.set_cookie(SESSION_COOKIE, request.app[_SESSIONS].open(console.clock()),
                        httponly=True, samesite="Strict", secure=request.secure, path="/",
                        max_age=int(http.auth.session))
    return response


async def _logout(request: web.Request) -> web.Response:
    request.app[_SESSIONS].close(request.cookies.get(SESSION_COOKIE))
    response = _redirect("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# -- pages and their JSON twins --------------------------------------------------------------------

View = Callable[[web.Request, Console], dict[str, Any]]


def _page(template: str, view: View) -> Handler:
    async def page(request: web.Request) -> web.StreamResponse:
        data = view(request, request.app[_KEY])
        if template == "historique.html" and not data.get("finished"):
            data["refresh"] = True
        return _render(request, template, data)
    return page


def _api(view: View) -> Handler:
    async def api(request: web.Request) -> web.StreamResponse:
        return web.json_response(view(request, request.app[_KEY]),
                                 dumps=lambda data: json.dumps(data, ensure_ascii=False))
    return api


def _feeds(request: web.Request, console: Console) -> dict[str, Any]:
    return views.feeds_page(console.store, console.config(), console.clock())


def _feed(request: web.Request, console: Console) -> dict[str, Any]:
    return views.feed_page(console.store, console.config(), int(request.match_info["id"]),
                           console.clock())


def _stories(request: web.Request, console: Console) -> dict[str, Any]:
    query = request.query
    return views.stories_page(console.store, console.config(), console.rules(), console.clock(),
                              rule=query.get("regle", ""), outlet=query.get("source", ""),
                              period=query.get("periode", "7j"), words=query.get("q", ""))


def _story(request: web.Request, console: Console) -> dict[str, Any]:
    return views.story_page(console.store, console.config(), int(request.match_info["id"]),
                            console.clock())


def _alerts(request: web.Request, console: Console) -> dict[str, Any]:
    return views.alerts_page(console.store, console.config(), console.clock(),
                             status=request.query.get("etat", ""))


def _rules(request: web.Request, console: Console) -> dict[str, Any]:
    return views.rules_page(console.store, console.config(), console.rules(), console.reloads,
                            console.clock())


def _backtest(request: web.Request, console: Console) -> dict[str, Any]:
    found = request.app[_BACKTESTS].status(request.match_info["id"])
    if found is None:
        raise views.NotFound("ce test sur l'historique n'existe pas (ou plus : le démon a "
                             "redémarré)")
    return found


async def _retry(request: web.Request) -> web.StreamResponse:
    console = request.app[_KEY]
    alert_id = int(request.match_info["id"])
    before = console.store.outbox.statuses([alert_id]).get(alert_id)
    if before is None:
        raise views.NotFound(f"aucune alerte n° {alert_id}")
    requeued = console.store.outbox.requeue(now=console.clock(), max_age=console.config().notify.max_age,
                                     ids=[alert_id]) > 0
    if requeued:
        log.info("console: alert %d put back in line", alert_id)
    if _is_api(request):
        return web.json_response({"id": alert_id, "requeued": requeued, "was": before})
    return _redirect(f"/alertes?relancee={alert_id}" if requeued else
                     f"/alertes?non_relancee={alert_id}")


# -- the tester ----------------------------------------------------------------------------------

async def _inputs(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="the body is not JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        names = data.get("rules") or []
    else:
        form = await request.post()
        data = {key: form.get(key, "") for key in ("title", "text", "url", "yaml", "since")}
        names = form.getall("rules", [])
    return {"title": str(data.get("title") or ""), "text": str(data.get("text") or ""),
            "url": str(data.get("url") or ""), "yaml": str(data.get("yaml") or ""),
            "since": str(data.get("since") or "30d"),
            "rules": [str(name) for name in names] if isinstance(names, list) else []}


async def _try_rules(console: Console, inputs: dict[str, Any]) -> dict[str, Any]:
    config = console.config()
    try:
        rules = tester.chosen_rules(console.rules(), inputs["rules"], inputs["yaml"], config)
        article = await tester.article_for(config, title=inputs["title"], text=inputs["text"],
                                           url=inputs["url"])
    except InvalidInput as error:
        return {"errors": [str(problem) for problem in error.problems]}
    except (FetchError, OSError) as error:
        return {"errors": [f"{inputs['url']}: {error}"]}
    return await asyncio.to_thread(tester.evaluate, rules, article)


async def _tester_page(request: web.Request) -> web.Response:
    console = request.app[_KEY]
    running = [rule.name for rule in console.rules().rules]
    inputs: dict[str, Any] = {"title": "", "text": "", "url": "", "yaml": "", "since": "30d",
                              "rules": running}
    result = None
    if request.method == "POST":
        inputs = await _inputs(request)
        result = await _try_rules(console, inputs)
    return _render(request, "testeur.html", {"inputs": inputs, "result": result,
                                             "running": running})


async def _tester_api(request: web.Request) -> web.Response:
    result = await _try_rules(request.app[_KEY], await _inputs(request))
    return web.json_response(result, status=400 if "errors" in result else 200,
                             dumps=lambda data: json.dumps(data, ensure_ascii=False))


async def _backtest_start(request: web.Request) -> web.StreamResponse:
    console = request.app[_KEY]
    inputs = await _inputs(request)
    config = console.config()
    try:
        rules = tester.chosen_rules(console.rules(), inputs["rules"], inputs["yaml"], config)
        since = console.clock() - parse_duration(inputs["since"])
        job = request.app[_BACKTESTS].start(config, rules, since, inputs["since"])
    except InvalidInput as error:
        return _refuse(request, 400, "; ".join(str(problem) for problem in error.problems))
    except ValueError as error:
        return _refuse(request, 400, f"since: {error}")
    except RuntimeError as busy:
        return _refuse(request, 429, str(busy))
    if _is_api(request):
        return web.json_response({"id": job, "status": f"/api/historique/{job}"}, status=202)
    return _redirect(f"/historique/{job}")
