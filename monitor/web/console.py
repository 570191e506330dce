"""What the console's handlers share: the `Console` the daemon hands over, the application's
keys, and how a page, a refusal and a redirect are answered."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web

from monitor.config.config import Config
from monitor.core.rules import RuleSet
from monitor.store.roles import ConsoleStorage
from monitor.web import auth, tester, views

CSRF_COOKIE = "monitor_csrf"
SESSION_COOKIE = "monitor_session"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """What the console reads, handed over by the daemon (getters: a reload swaps them)."""

    config: Callable[[], Config]
    rules: Callable[[], RuleSet]
    store: ConsoleStorage
    health: Callable[[], tuple[bool, str]] = lambda: (True, "ok")
    metrics: Callable[[], bytes] = lambda: b""
    troubles: Callable[[], list[str]] = lambda: []  # worked around lately: a banner says so
    reloads: views.ReloadLog = field(default_factory=views.ReloadLog)
    clock: Callable[[], float] = time.time


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)
SESSIONS: web.AppKey[auth.Sessions] = web.AppKey("sessions", auth.Sessions)
LOGINS: web.AppKey[auth.Logins] = web.AppKey("logins", auth.Logins)
BACKTESTS: web.AppKey[tester.Backtests] = web.AppKey("backtests", tester.Backtests)
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates", jinja2.Environment)


def _when(value: str | None, style: str = "full") -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value)
    return moment.strftime("%d/%m %H:%M" if style == "short" else "%d/%m/%Y %H:%M")


def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("monitor.web", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["when"] = _when
    env.filters["percent"] = lambda ratio: "—" if ratio is None else f"{ratio:.0%}"
    return env


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def refuse(request: web.Request, status: int, message: str) -> web.Response:
    if is_api(request):
        return web.json_response({"error": message}, status=status)
    return web.Response(status=status, text=f"{message}\n")


def render(request: web.Request, template: str, data: dict[str, Any],
           status: int = 200) -> web.Response:
    """The page, with the CSRF token its forms carry (a cookie set on the first page seen)."""
    console = request.app[CONSOLE]
    config = console.config()
    token = request.cookies.get(CSRF_COOKIE)
    logged_in = bool(config.http and config.http.auth) and request.app[SESSIONS].valid(
        request.cookies.get(SESSION_COOKIE), console.clock())
    page = request.app[TEMPLATES].get_template(template).render({
        "path": request.path, "query": request.query, "logged_in": logged_in,
        "timezone": config.notify.timezone, "troubles": console.troubles(), **data,
        "csrf": token or (fresh := secrets.token_urlsafe(24))})
    response = web.Response(text=page, content_type="text/html", status=status)
    if not token:
        response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="Strict",
                            secure=request.secure, path="/")
    return response


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})
