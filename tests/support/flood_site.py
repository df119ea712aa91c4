"""A hostile website for the crawler's limits, on 127.0.0.1:0 in a daemon thread (a context manager).

Every string it controls is `size` characters long (100 KB by default) and every list is longer than the
crawler keeps; the pages are built by a script in the browser, so a few kilobytes on the wire become
hundreds of megabytes in the page (as one 105 KB gzip page did in a security review). The
floods sit in hidden elements: the crawler reads them all the same, and the browser need not lay out
hundreds of megabytes of text (which alone takes minutes):

* ``/``: a title and an h1 of `size` characters; links to /forms and /failing, 300 links to ``/n/<i>`` (a
  small 404 page), then `links` (2,500) links to ``/p/<i>?q=<size chars>``; every link is named by `size`
  Cyrillic letters (six bytes each once escaped in JSON);
* ``/forms``: 21 forms, each named by `size` characters then " delete", its action a `size` URL, and a
  button named by `size`; the first has 51 text fields, the others 2, whose labels are `size` characters
  long, names and placeholders `size` / 10 (Chromium takes seconds over long field names);
* ``/failing``: 60 images whose `size` URLs fail (the server refuses request lines over 64 KB), 20 fetches of
  `size` URLs to a closed port, 30 console errors and 30 uncaught exceptions of `size` characters;
* ``/robots.txt``: allows everything and names 60 sitemaps on another site by URLs of `size` / 2;
* ``/sitemap.xml``: 60 pages of the site by URLs of `size` / 2 (robots.txt and sitemaps stay under 5 MB).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

from tests.support.sites import _BaseThreadServer

LINKS, NAMED, FORMS, FIELDS, FAILING, MESSAGES, SITEMAPS = 2_500, 300, 21, 51, 60, 30, 60

HOME = """<header><nav><a href="/forms">Forms</a> <a href="/failing">Failing</a></nav></header>
<main><h1 id="heading">Flood</h1><div id="links" hidden></div></main>
<script>
document.title = "Title " + BIG;
document.getElementById("heading").textContent = "Heading " + BIG;
const named = "ж".repeat(SIZE);
const links = document.createDocumentFragment();
for (let i = 0; i < NAMED + LINKS; i++) {
  const a = document.createElement("a");
  a.href = i < NAMED ? "/n/" + i : "/p/" + i + "?q=" + BIG;
  a.textContent = named;
  links.append(a);
}
document.getElementById("links").append(links);
</script>"""

FORMS_PAGE = """<main><h1>Forms</h1><div hidden></div></main>
<script>
const main = document.querySelector("main div");
for (let i = 0; i < FORMS; i++) {
  const form = document.createElement("form");
  form.setAttribute("aria-label", BIG + " delete");
  form.action = "/submit/" + i + "?" + BIG;
  for (let j = 0; j < (i ? 2 : FIELDS); j++) {
    const label = document.createElement("label");
    label.htmlFor = "f" + i + "_" + j;
    label.textContent = BIG;
    const input = document.createElement("input");
    input.id = "f" + i + "_" + j;
    input.name = SMALL + j;
    input.placeholder = SMALL;
    form.append(label, input);
  }
  const button = document.createElement("button");
  button.textContent = BIG;
  form.append(button);
  main.append(form);
}
</script>"""

FAILING_PAGE = """<main><h1>Failing</h1></main>
<script>
for (let i = 0; i < FAILING; i++) {
  const img = document.createElement("img");
  img.src = "/missing/" + i + "?" + BIG;
  document.body.append(img);
}
for (let i = 0; i < 20; i++) fetch("http://127.0.0.1:9/" + i + "?" + BIG).catch(() => {});
for (let i = 0; i < MESSAGES; i++) {
  console.error("Console " + i + " " + BIG);
  setTimeout(() => { throw new Error("Boom " + i + " " + BIG); }, 0);
}
</script>"""


class FloodSite(_BaseThreadServer):
    """The flood: see the module docstring."""

    def __init__(self, size: int = 100_000, links: int = LINKS) -> None:
        super().__init__()
        self.size, self.links = size, links

    def _page(self, title: str, body: str) -> str:
        constants = (
            f"const SIZE = {self.size}, BIG = 'a'.repeat(SIZE), SMALL = BIG.slice(0, SIZE / 10), LINKS = {self.links}, NAMED = {NAMED}, "
            f"FORMS = {FORMS}, "
            f"FIELDS = {FIELDS}, FAILING = {FAILING}, MESSAGES = {MESSAGES};"
        )
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<script>{constants}</script></head><body>{body}</body></html>"
        )

    def answer(self, path: str) -> tuple[int, str, str]:
        """Return (status, content type, body) for a GET of `path` (its query left out)."""
        big = "a" * self.size
        if path == "/":
            return 200, "text/html", self._page("Flood", HOME)
        if path == "/forms":
            return 200, "text/html", self._page("Forms", FORMS_PAGE)
        if path == "/failing":
            return 200, "text/html", self._page("Failing", FAILING_PAGE)
        if path == "/robots.txt":
            lines = "".join(f"Sitemap: https://elsewhere.example/{i}?{big[::2]}\n" for i in range(SITEMAPS))
            return 200, "text/plain", f"User-agent: *\nAllow: /\n{lines}"
        if path == "/sitemap.xml":
            urls = "".join(f"<url><loc>{self.url}/s/{i}?{big[::2]}</loc></url>" for i in range(SITEMAPS))
            return (
                200,
                "application/xml",
                (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
                ),
            )
        return 404, "text/html", self._page("Not found", "<h1>Not found</h1>")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                status, kind, body = site.answer(self.path.split("?", 1)[0])
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
