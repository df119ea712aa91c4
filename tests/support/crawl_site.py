"""Websites for the crawler's tests and benchmark, on 127.0.0.1:0 in a daemon thread (context managers).

`CrawlSite` has a known page set:

* ``/`` home: header/nav/main/footer, h1 "Crawl home", links (in this order) to /about, /contact, /private,
  /calendar, /missing, /broken-js, /broken-image, /items, /#section, /about?utm_source=x and
  https://elsewhere.example/ (another site);
* ``/about``, ``/orphan`` (reached by no link: only the sitemap names it), ``/private``, ``/thanks``;
* ``/contact``: form "Contact us" (Name: <label for>, Email: a wrapping label; button "Send") posting to
  /contact, which answers 303 to /thanks; form "Delete account" (an email field "Confirm your email",
  button "Delete account") posting to /account/delete;
* ``/calendar`` (November 2026) and ``/calendar?month=YYYY-MM``: each links to the next month, forever;
* ``/missing``: an HTML page answered 404; ``/broken-js``: throws an uncaught Error on load;
  ``/broken-image``: an <img src="/img/broken.png">, which answers 500;
* ``/items``: links to /items/1 … /items/200, each the same layout (h1 "Item N", one link back);
* ``/robots.txt``: ``User-agent: *``, ``Disallow: /private``, ``Sitemap: <url>/sitemap.xml``;
* ``/sitemap.xml``: a urlset of /, /about and /orphan; ``/favicon.ico``: empty. Anything else answers 404.

`CrawlSite(garbage=True)` answers /robots.txt with an HTML page and /sitemap.xml with broken XML.
``/slow`` (linked from nowhere) answers after 1.5 s. ``/login`` signs in with the password PASSWORD (a session
cookie); ``/account`` (linked from nowhere) sends a visitor without it to /login. `CrawlSite(healthy=True)` is the fixed deploy: /missing, /broken-js and /broken-image are ordinary pages.
`CrawlSite(gone=("/contact",))` took pages off the site: the home page no longer links them, they answer 404.

The crawl of CrawlSite with the default CrawlOptions (max_pages 30, max_depth 3) visits exactly these 13
pages: ``/`` (start, depth 0); /about and /orphan (sitemap, depth 1 — /about is named there before the home
page's link is read); /contact, /calendar, /missing (404), /broken-js (an exception), /broken-image (a
failed request, 500) and /items (links, depth 1); /calendar?month=2026-12, /items/1, /items/2 (depth 2) and
/calendar?month=2027-01 (depth 3). Skipped: /private (robots), /#section and /about?utm_source=x
(duplicate), https://elsewhere.example/ (offsite), /items/6 … /items/200 (trap: 5 URLs per pattern),
/items/3 … /items/5 (duplicate_structure: /items/1 and /items/2 sign alike), /calendar?month=2027-02
(depth; at max_depth 10 it is duplicate_structure instead: the months sign alike).

`LargeSite(n)`: ``/`` links to /s1/ … /s<n-1>/ and each /s<k>/ to the next 5 pages; every page has its
own first path segment, so none share a URL pattern and all n are visited (the benchmark's site).

`FlatSite(n, broken=k)`: ``/`` links to n sibling apps under one section, ``/examples/app-a/`` …, the k-th
answering 500: more siblings than the crawl's 50 per section.

Every request's method and path is recorded (`requests`, `paths`), and every POST's form body (`posts`).
"""

from __future__ import annotations

import html
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.support.sites import _BaseThreadServer

ITEMS = 200
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _page(title: str, body: str, head: str = "") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"{head}</head><body>{body}</body></html>"
    )


def _chrome(heading: str, main: str) -> str:
    return _page(
        heading,
        '<header><nav><a href="/">Home</a> <a href="/about">About</a></nav></header>'
        f"<main><h1>{html.escape(heading)}</h1>{main}</main><footer>Crawl site</footer>",
    )


HOME_LINKS = [
    "/about",
    "/contact",
    "/private",
    "/calendar",
    "/missing",
    "/broken-js",
    "/broken-image",
    "/items",
    "/#section",
    "/about?utm_source=x",
    "https://elsewhere.example/",
]
CONTACT = """
<form action="/contact" method="post" aria-label="Contact us">
  <label for="name">Name</label> <input id="name" name="name" required>
  <label>Email <input type="email" name="email" required></label>
  <button type="submit">Send</button>
</form>
<form action="/account/delete" method="post">
  <h2>Delete account</h2>
  <label>Confirm your email <input type="email" name="confirm"></label>
  <button>Delete account</button>
</form>
"""


PASSWORD, SESSION = "hunter2-secret", "signed-in"
LOGIN = """
<form action="/login" method="post">
  <label>Password <input type="password" name="password"></label>
  <button type="submit">Sign in</button>
</form>
"""


def _next_month(month: str) -> str:
    year, number = (int(part) for part in MONTH.match(month).groups())
    return f"{year + number // 12}-{number % 12 + 1:02d}"


class CrawlSite(_BaseThreadServer):
    """The crawler's fixture website; see the module docstring for its pages and the expected crawl."""

    def __init__(self, garbage: bool = False, healthy: bool = False, gone: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.garbage = garbage
        self.healthy = healthy  # the fixed deploy: /missing, /broken-js and /broken-image are ordinary pages
        self.gone = gone  # pages taken off the site: the home page no longer links them, and they answer 404
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.posts: list[tuple[str, dict]] = []  # (path, form fields)
        self._lock = threading.Lock()

    @property
    def paths(self) -> list[str]:
        with self._lock:
            return [path for _, path in self.requests]

    def _record(self, method: str, path: str, form: dict | None = None) -> None:
        with self._lock:
            self.requests.append((method, path))
            if form is not None:
                self.posts.append((path, form))

    def answer(self, path: str, query: dict) -> tuple[int, str, str, dict]:
        """Return (status, content type, body, extra headers) for a GET."""
        if path in self.gone:
            return 404, "text/html", _chrome("Not found", ""), {}
        if path == "/":
            links = "".join(
                f'<li><a href="{html.escape(href)}">{html.escape(href)}</a></li>'
                for href in HOME_LINKS
                if href not in self.gone
            )
            return 200, "text/html", _chrome("Crawl home", f"<ul>{links}</ul>"), {}
        if path in ("/about", "/orphan", "/private", "/thanks") or (
            self.healthy and path in ("/missing", "/broken-js", "/broken-image")
        ):
            return 200, "text/html", _chrome(path[1:].capitalize(), "<p>A page.</p>"), {}
        if path == "/contact":
            return 200, "text/html", _chrome("Contact", CONTACT), {}
        if path == "/calendar":
            month = query.get("month", ["2026-11"])[0]
            if not MONTH.match(month):
                return 404, "text/html", _chrome("No such month", ""), {}
            link = f'<a href="/calendar?month={_next_month(month)}">Next month</a>'
            return 200, "text/html", _chrome(f"Calendar {month}", link), {}
        if path == "/login":
            return 200, "text/html", _chrome("Sign in", LOGIN), {}
        if path == "/account":  # behind the login (do_GET checks the cookie)
            return 200, "text/html", _chrome("Your account", "<p>Signed in.</p>"), {}
        if path == "/slow":  # linked from nowhere: a crawl reaches it through crawlPages, 1.5 s later
            time.sleep(1.5)
            return 200, "text/html", _chrome("Slow", "<p>Took its time.</p>"), {}
        if path == "/missing":
            return 404, "text/html", _chrome("Not found", "<p>Nothing here.</p>"), {}
        if path == "/broken-js":
            return (
                200,
                "text/html",
                _chrome("Broken JS", '<script>throw new Error("crawl boom")</script>'),
                {},
            )
        if path == "/broken-image":
            return 200, "text/html", _chrome("Broken image", '<img src="/img/broken.png" alt="broken">'), {}
        if path == "/favicon.ico":  # Chromium asks for it; a 404 would be a console error on some pages
            return 200, "image/x-icon", "", {}
        if path == "/img/broken.png":
            return 500, "text/plain", "image server down", {}
        if path == "/items":
            links = "".join(f'<li><a href="/items/{n}">Item {n}</a></li>' for n in range(1, ITEMS + 1))
            return 200, "text/html", _chrome("Items", f"<ul>{links}</ul>"), {}
        if re.fullmatch(r"/items/\d+", path) and 1 <= int(path.rsplit("/", 1)[1]) <= ITEMS:
            return (
                200,
                "text/html",
                _chrome(f"Item {path.rsplit('/', 1)[1]}", '<a href="/items">All items</a>'),
                {},
            )
        if path == "/robots.txt":
            if self.garbage:
                return 200, "text/html", _page("Welcome", "<h1>Our app</h1>"), {}
            return (
                200,
                "text/plain",
                f"User-agent: *\nDisallow: /private\nSitemap: {self.url}/sitemap.xml\n",
                {},
            )
        if path == "/sitemap.xml":
            if self.garbage:
                return 200, "application/xml", "<?xml version='1.0'?><urlset><url><loc>oops", {}
            urls = "".join(f"<url><loc>{self.url}{p}</loc></url>" for p in ("/", "/about", "/orphan"))
            return (
                200,
                "application/xml",
                (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
                ),
                {},
            )
        return 404, "text/html", _chrome("Not found", ""), {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def _send(self, status: int, kind: str, body: str, headers: dict) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                site._record("GET", self.path)
                parts = urlsplit(self.path)
                if parts.path == "/account" and f"session={SESSION}" not in (
                    self.headers.get("Cookie") or ""
                ):
                    self._send(303, "text/plain", "", {"Location": "/login"})
                    return
                self._send(*site.answer(parts.path, parse_qs(parts.query)))

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                site._record("POST", self.path, form)
                if self.path == "/contact":
                    self._send(303, "text/plain", "", {"Location": "/thanks"})
                elif self.path == "/login":
                    good = form.get("password") == PASSWORD
                    self._send(
                        303,
                        "text/plain",
                        "",
                        {
                            "Location": "/account" if good else "/login",
                            **({"Set-Cookie": f"session={SESSION}; Path=/"} if good else {}),
                        },
                    )
                else:
                    self._send(200, "text/html", _chrome("Done", "<p>Done.</p>"), {})

        return Handler


class LargeSite(_BaseThreadServer):
    """n pages of n distinct URL patterns: / links to every page, each page to the next 5."""

    def __init__(self, n: int = 200) -> None:
        super().__init__()
        self.n = n

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        n = self.n

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                found = re.fullmatch(r"/s(\d+)/", self.path)
                if self.path == "/":
                    links = "".join(f'<a href="/s{k}/">Page {k}</a> ' for k in range(1, n))
                    body = _page("Large site", f"<main><h1>Large site</h1><p>{links}</p></main>")
                elif found and 0 < int(found.group(1)) < n:
                    k = int(found.group(1))
                    links = "".join(f'<a href="/s{j}/">Page {j}</a> ' for j in range(k + 1, min(n, k + 6)))
                    body = _page(
                        f"Page {k}", f"<main><h1>Page {k}</h1><p>Section {k}.</p><p>{links}</p></main>"
                    )
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


class FlatSite(_BaseThreadServer):
    """A flat site: / links to n sibling apps /examples/app-<letters>/ (slugs that share no URL pattern);
    the `broken`-th answers 500."""

    def __init__(self, n: int = 60, broken: int | None = None) -> None:
        super().__init__()
        self.slugs = [f"app-{_word(k)}" for k in range(1, n + 1)]
        self.broken = self.slugs[broken - 1] if broken else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                found = re.fullmatch(r"/examples/([a-z-]+)/", self.path)
                status = 200
                if self.path == "/":
                    links = "".join(f'<li><a href="/examples/{slug}/">{slug}</a></li>' for slug in site.slugs)
                    body = _page("Examples", f"<main><h1>Examples</h1><ul>{links}</ul></main>")
                elif found and found.group(1) in site.slugs:
                    slug = found.group(1)
                    status = 500 if slug == site.broken else 200
                    body = _page(slug, f'<main><h1>{slug}</h1><a href="/">All examples</a></main>')
                else:
                    status, body = 404, _page("Not found", "")
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _word(k: int) -> str:
    """k in letters (1 → a, 27 → aa): slugs without digits, so that no two share a URL pattern."""
    letters = ""
    while k:
        k, rest = divmod(k - 1, 26)
        letters = chr(97 + rest) + letters
    return letters
