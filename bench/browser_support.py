"""What the browser benchmarks share: admin pages in Chromium against the daphne of
bench/demo_server.py.

That daphne serves the example project with DEBUG off, so it serves no static files (as in
production, where a CDN or the front server does). The browser context answers /static/
itself instead, from the files Django's staticfiles finders find, so the pages get their
scripts and styles without touching the server under test.
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse


def serve_static(context) -> None:
    """Answer the context's /static/ requests from the project's static files (Django must
    be set up in this process, as ``session_cookies`` does)."""
    from django.contrib.staticfiles import finders

    def fulfil(route) -> None:
        path = unquote(urlparse(route.request.url).path).removeprefix("/static/")
        found = finders.find(path)
        if found:
            route.fulfill(path=found, headers={"Cache-Control": "max-age=3600"})
        else:
            route.fulfill(status=404, body="not found")

    context.route("**/static/**", fulfil)


def admin_context(browser, base_url: str, cookie: str):
    """A browser context logged in with session ``cookie``, with static files."""
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base_url}])
    serve_static(context)
    return context


# True when the page's live layer has fetched all it was told of (tests/browser.py's idle).
IDLE = (
    "() => { const live = window.realtimeAdmin;"
    " return Boolean(live) && !live.running && !live.changed.size && !live.resyncWanted; }"
)
