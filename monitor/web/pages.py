"""The console's pages, each with its `/api/` JSON twin, the rule tester, and the one write:
a dead alert put back in line, a story muted. Each reads through `views` and answers through `console`."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from monitor.core.errors import FetchError, InvalidInput
from monitor.core.units import parse_duration
from monitor.web import rulefeeds, tester, views
from monitor.web.console import BACKTESTS, CONSOLE, Console, Handler, is_api, redirect, refuse, render

log = logging.getLogger(__name__)


View = Callable[[web.Request, Console], dict[str, Any]]


def page(template: str, view: View) -> Handler:
    async def page(request: web.Request) -> web.StreamResponse:
        console = request.app[CONSOLE]
        data = await console.store.call(view, request, console)
        if template == "historique.html" and not data.get("finished"):
            data["refresh"] = True
        return render(request, template, data)
    return page


def api(view: View) -> Handler:
    async def api(request: web.Request) -> web.StreamResponse:
        console = request.app[CONSOLE]
        return web.json_response(await console.store.call(view, request, console),
                                 dumps=lambda data: json.dumps(data, ensure_ascii=False))
    return api


def feeds(request: web.Request, console: Console) -> dict[str, Any]:
    return views.feeds_page(console.store, console.config(), console.clock())


def feed(request: web.Request, console: Console) -> dict[str, Any]:
    return views.feed_page(console.store, console.config(), int(request.match_info["id"]),
                           console.clock())


def stories(request: web.Request, console: Console) -> dict[str, Any]:
    query = request.query
    return views.stories_page(console.store, console.config(), console.rules(), console.clock(),
                              rule=query.get("regle", ""), outlet=query.get("source", ""),
                              period=query.get("periode", "7j"), words=query.get("q", ""),
                              order=query.get("tri", "recent"))


def story(request: web.Request, console: Console) -> dict[str, Any]:
    return views.story_page(console.store, console.config(), int(request.match_info["id"]),
                            console.clock())


def alerts(request: web.Request, console: Console) -> dict[str, Any]:
    return views.alerts_page(console.store, console.config(), console.clock(),
                             status=request.query.get("etat", ""))


def rules(request: web.Request, console: Console) -> dict[str, Any]:
    return views.rules_page(console.store, console.config(), console.rules(), console.reloads,
                            console.clock())


def backtest(request: web.Request, console: Console) -> dict[str, Any]:
    found = request.app[BACKTESTS].status(request.match_info["id"])
    if found is None:
        raise views.NotFound("ce test sur l'historique n'existe pas (ou plus : le démon a "
                             "redémarré)")
    return found


async def retry(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    alert_id = int(request.match_info["id"])
    before = console.store.outbox.statuses([alert_id]).get(alert_id)
    if before is None:
        raise views.NotFound(f"aucune alerte n° {alert_id}")
    requeued = console.store.outbox.requeue(now=console.clock(), max_age=console.config().notify.max_age,
                                            ids=[alert_id]) > 0
    if requeued:
        log.info("console: alert %d put back in line", alert_id)
    if is_api(request):
        return web.json_response({"id": alert_id, "requeued": requeued, "was": before})
    return redirect(f"/alertes?relancee={alert_id}" if requeued else
                    f"/alertes?non_relancee={alert_id}")


async def mute(request: web.Request) -> web.StreamResponse:
    """A story muted (`etat=on`, the default) or unmuted (`etat=off`); the API takes
    `{"muted": true|false}`."""
    console = request.app[CONSOLE]
    story_id = int(request.match_info["id"])
    if is_api(request):
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return refuse(request, 400, "the body is not JSON")
        muted = body.get("muted", True) if isinstance(body, dict) else True
        if not isinstance(muted, bool):
            return refuse(request, 400, "muted: true or false")
    else:
        muted = (await request.post()).get("etat", "on") != "off"
    done = await console.store.call(functools.partial(
        console.store.items.mute, story_id, console.clock(), muted=muted))
    if done is None:
        raise views.NotFound(f"aucun sujet n° {story_id}")
    log.info("console: story %d %s (%d alert(s) not yet sent muted)", done.story_id,
             "muted" if muted else "unmuted", done.alerts)
    if is_api(request):
        return web.json_response({"id": done.story_id, "muted": muted, "alerts_muted": done.alerts})
    return redirect(f"/sujets/{done.story_id}?{'sourdine' if muted else 'retabli'}=1")


async def rule_feed(request: web.Request) -> web.StreamResponse:
    """`/flux/regles/<rule>.xml` (RSS 2.0) or `.json` (JSON Feed 1.1)."""
    console = request.app[CONSOLE]
    rule, _, kind = request.match_info["file"].rpartition(".")
    if kind not in ("xml", "json"):
        raise views.NotFound("a rule's feed is <rule>.xml or <rule>.json")
    description, stories = await console.store.call(
        views.rule_feed_stories, console.store, console.rules(), rule, console.clock())
    base = f"{request.scheme}://{request.host}"
    if kind == "xml":
        return web.Response(text=rulefeeds.rss(rule, description, stories, base),
                            content_type="application/rss+xml")
    return web.Response(text=rulefeeds.json_feed(rule, description, stories, base,
                                                 str(request.url)),
                        content_type="application/feed+json")


# -- the tester ----------------------------------------------------------------------------------

async def read_inputs(request: web.Request) -> dict[str, Any]:
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
            "since": str(data.get("since") or "30j"),
            "rules": [str(name) for name in names] if isinstance(names, list) else []}


async def try_rules(console: Console, inputs: dict[str, Any]) -> dict[str, Any]:
    config = console.config()
    try:
        # off the event loop: a rule file can be large, its regexes many
        rules = await asyncio.to_thread(tester.chosen_rules, console.rules(), inputs["rules"],
                                        inputs["yaml"], config)
        article = await tester.article_for(config, title=inputs["title"], text=inputs["text"],
                                           url=inputs["url"])
    except InvalidInput as error:
        return {"errors": [str(problem) for problem in error.problems]}
    except (FetchError, OSError) as error:
        return {"errors": [f"{inputs['url']}: {error}"]}
    return await asyncio.to_thread(tester.evaluate, rules, article)


async def tester_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    running = [rule.name for rule in console.rules().rules]
    inputs: dict[str, Any] = {"title": "", "text": "", "url": "", "yaml": "", "since": "30j",
                              "rules": running}
    result = None
    if request.method == "POST":
        inputs = await read_inputs(request)
        result = await try_rules(console, inputs)
    return render(request, "testeur.html", {"inputs": inputs, "result": result,
                                            "running": running})


async def tester_api(request: web.Request) -> web.Response:
    result = await try_rules(request.app[CONSOLE], await read_inputs(request))
    return web.json_response(result, status=400 if "errors" in result else 200,
                             dumps=lambda data: json.dumps(data, ensure_ascii=False))


async def backtest_start(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    inputs = await read_inputs(request)
    config = console.config()
    try:
        rules = tester.chosen_rules(console.rules(), inputs["rules"], inputs["yaml"], config)
        since = console.clock() - parse_duration(inputs["since"], bare_seconds=False)
        job = request.app[BACKTESTS].start(config, rules, since, inputs["since"])
    except InvalidInput as error:
        return refuse(request, 400, "; ".join(str(problem) for problem in error.problems))
    except ValueError as error:
        return refuse(request, 400, f"since: {error}")
    except RuntimeError as busy:
        return refuse(request, 429, str(busy))
    if is_api(request):
        return web.json_response({"id": job, "status": f"/api/historique/{job}"}, status=202)
    return redirect(f"/historique/{job}")
