"""Look at the built book the way a reader does: headless Chromium, no network.

How Chromium is driven
----------------------
Through the DevTools protocol over a *pipe* (``--remote-debugging-pipe``): Chromium reads
JSON commands from file descriptor 3 and writes replies and events to descriptor 4, each
message ending in a NUL byte. That needs nothing beyond the standard library (no websocket
client, no chromedriver/selenium whose versions must match the browser, no debugging port
that could clash with another run) and gives what ``--dump-dom``/``--screenshot`` on the
command line cannot: the console messages and uncaught exceptions of each page, every
request it makes, a wait for MathJax to *finish* (``MathJax.startup.promise``) instead of a
guessed ``--virtual-time-budget``, the rendered DOM, and full-page screenshots, all from one
browser process for the whole book (about two seconds a page). Each page is opened in its
own browser context (fresh storage, like a first visit) and its own tab.

Pages are opened as ``file://`` URLs, as by a reader who opens ``index.html``: the stricter
case (no server to serve a file from elsewhere) and no port to pick.

No network
----------
Every host name resolves to nothing (``--host-resolver-rules``), the proxy points nowhere,
and ``http(s)``/``ws(s)`` requests are blocked in the page (``Network.setBlockedURLs``). Each
request a page *attempts* is still recorded (``Network.requestWillBeSent``), so a reference
to another host is reported even though it could never load.

What is checked on each page (:meth:`PageReport.problems`)
----------------------------------------------------------
* math: every element that Sphinx marks as math (``.math``) holds MathJax's output
  (``mjx-container``); MathJax reported no TeX error and no undefined macro; and the
  page's *visible* text holds no raw TeX: ``\\(``, ``\\[``, ``$$``, ``\\begin{``, or ``$...$``
  around TeX-looking text (a backslash command, ``^``, ``_`` or braces; ``$5 and $10`` is
  not math). Visible text is ``document.body.innerText`` (nothing hidden by CSS counts)
  with, hidden by an injected style sheet, what legitimately shows TeX as *code*: inline
  ``code``/``kbd``/``samp``, code-cell sources (``.cell_input``), literal blocks in the prose
  (``pre`` and ``div.highlight`` outside notebook outputs), plus ``script``/``style``/
  ``noscript``/``template`` and MathJax's own output (``mjx-container``, whose assistive
  MathML is text too). Notebook *outputs* (``.cell_output``) are **not** hidden, even where
  they are ``pre`` text: a ``print`` of ``$\\varepsilon$`` is what the reader gets,
  untypeset; so is a ``display(Markdown(...))`` whose math was not parsed. The ``.math``
  elements are not hidden either: untypeset, their ``\\(...\\)`` shows.
* tables: no visible line that looks like a Markdown pipe table's separator row (``|---``,
  ``| --- |``, or ``|—|`` after CommonMark's typographer), notebook outputs included.
* images: every ``<img>`` is ``complete`` with ``naturalWidth > 0`` (the viewport is made
  as tall as the page first, so nothing is left unloaded below the fold).
* printed output: no ``print``/stream output (``.cell_output .output.stream pre``) wider than
  its box, which a reader would have to scroll sideways to read to its end.
* console: no ``console.error``/``console.assert`` failure, no uncaught exception, no
  browser log entry of level error (failed loads, blocked requests, CSP, ...).
* hosts: no request to anything but ``file:``/``data:``/``blob:``/``about:``, and no
  ``<script src>``, ``<link href>`` (style sheets, preloads, icons), ``<img src>``/
  ``srcset``, ``<iframe>``/``<source>``/``<video>``/``<audio>`` source, nor ``url(...)`` or
  ``@import`` in a style sheet the page uses (``@font-face`` included; a ``file:`` style
  sheet's rules are hidden from the page, so those are read from disk) that points to
  another host. Links for the reader (``<a href="https://...">``) are fine.
* the page loaded at all (a missing file or a page that never settles is a problem too).

On request, one screenshot per page, 1280 CSS pixels wide and as tall as the page.
:func:`static_external_references` scans the built files themselves.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "chromium not found: install it with `apt-get install -y chromium` (or set CHROMIUM=/path/to/it)"
PAGE_WIDTH = 1280
PAGE_HEIGHT = 900
PAGE_TIMEOUT_S = 60.0
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:")

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    # no network: no host resolves, and a proxy that is never there
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-pipe",
)

# Raw TeX that a typeset page never shows as text.
RAW_MATH_PATTERNS = {
    r"\(": re.compile(r"\\\("),
    r"\[": re.compile(r"\\\["),
    "$$": re.compile(r"\$\$"),
    r"\begin{": re.compile(r"\\begin\{"),
    "$...$ around TeX": re.compile(r"\$[^$\n]{0,200}?(?:\\[A-Za-z]+|[\^_{}])[^$\n]{0,200}?\$"),
}
# A Markdown pipe-table separator row left as text: |--- or | --- | (colons for alignment);
# CommonMark's typographer turns --- into an em dash (|—|—:|), so dashes of any kind count.
PIPE_TABLE_LINE = re.compile(r"\|\s*:?-{3,}|\|\s*:?[\u2012-\u2015\u2212]+\s*:?\s*(?:\||$)")

# Built files: a script, style sheet, font or image fetched from another host.
EXTERNAL_REF_PATTERNS = (
    # HTML: <script src=...>, <link href=...> (any rel but the ones a reader follows), <img src>, ...
    re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", re.I),
    re.compile(r"<(?:img|iframe|source|video|audio|embed|track)\b[^>]*\bsrc\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", re.I),
    re.compile(r"<link\b(?![^>]*\brel\s*=\s*[\"']?(?:canonical|alternate|author|help|license|next|prev|search|bookmark)\b)"
               r"[^>]*\bhref\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", re.I),
    # CSS: url(...) (fonts in @font-face, images) and @import
    re.compile(r"url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)", re.I),
    re.compile(r"@import\s+[\"']((?:https?:)?//[^\"']+)", re.I),
)
# JavaScript: a string that is the URL of a script, style sheet or font on another host, or
# any URL on a host that serves them (CDNs, web-font services).
JS_EXTERNAL_ASSET = re.compile(
    r"[\"'`]((?:https?:)?//[^\"'`\s]+?\.(?:m?js|css|woff2?|ttf|otf|eot)(?:[?#][^\"'`\s]*)?)[\"'`]", re.I)
ASSET_HOSTS = (
    "cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "ajax.googleapis.com", "code.jquery.com",
    "fonts.googleapis.com", "fonts.gstatic.com", "use.fontawesome.com", "kit.fontawesome.com",
    "stackpath.bootstrapcdn.com", "maxcdn.bootstrapcdn.com", "cdn.plot.ly", "polyfill.io",
    "cdn.statically.io", "rawcdn.githack.com", "gitcdn.xyz", "esm.sh", "cdn.skypack.dev",
)
JS_ASSET_HOST = re.compile(
    r"[\"'`]((?:https?:)?//(?:" + "|".join(re.escape(h) for h in ASSET_HOSTS) + r")(?:[/:?#][^\"'`\s]*)?)[\"'`]", re.I)

# Vendored code that *names* another host without the book ever fetching from it: (directory
# under the build, URL prefix) -> why. The browser check is the proof that no page requests them.
STATIC_ALLOWED = {
    ("_static/mathjax/", "https://cdn.jsdelivr.net/npm/wicked-good-xpath@"):
        "MathJax's speech-rule-engine: an XPath polyfill, loaded only where document.evaluate is missing "
        "(Internet Explorer, Node without a DOM)",
    ("_static/mathjax/", "https://cdn.jsdelivr.net/npm/sre-mathmaps-ie@"):
        "speech-rule-engine: locale files for Internet Explorer only",
    ("_static/mathjax/", "https://cdn.jsdelivr.net/npm/speech-rule-engine@"):
        "speech-rule-engine's built-in default for its locale files; MathJax's loader replaces it by "
        "[mathjax]/sre/mathmaps, the bundled copy",
    ("_static/mathjax/latest.js", ""):
        "MathJax's latest.js, a loader that looks up the newest MathJax on a CDN; the book loads "
        "_static/mathjax/tex-chtml.js instead and never latest.js",
}


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` if set, else the first of the usual names on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_chromium() -> str:
    """The Chromium executable; else skip the test with the install hint, or fail it in CI."""
    import pytest

    executable = find_chromium()
    if executable is None:
        if in_ci():
            pytest.fail(f"{INSTALL_HINT} (CI=true: the browser check must run)")
        pytest.skip(INSTALL_HINT)
    return executable


class CDPError(RuntimeError):
    pass


@dataclasses.dataclass
class PageReport:
    """What a reader's browser showed for one page; :meth:`problems` says what is wrong."""

    url: str
    math_elements: int = 0
    untypeset_math: list[str] = dataclasses.field(default_factory=list)
    rendered_math: int = 0
    math_errors: list[str] = dataclasses.field(default_factory=list)
    raw_math: list[str] = dataclasses.field(default_factory=list)
    pipe_table_lines: list[str] = dataclasses.field(default_factory=list)
    images: int = 0
    broken_images: list[str] = dataclasses.field(default_factory=list)
    wide_outputs: list[str] = dataclasses.field(default_factory=list)
    console_errors: list[str] = dataclasses.field(default_factory=list)
    requests: list[str] = dataclasses.field(default_factory=list)
    external_requests: list[str] = dataclasses.field(default_factory=list)
    external_refs: list[str] = dataclasses.field(default_factory=list)
    load_failures: list[str] = dataclasses.field(default_factory=list)
    screenshot: Path | None = None
    seconds: float = 0.0

    def problems(self) -> list[str]:
        out = list(self.load_failures)
        if self.untypeset_math:
            out.append(f"{len(self.untypeset_math)} of {self.math_elements} math elements not typeset "
                       f"(no mjx-container), e.g. {self.untypeset_math[:3]}")
        out += [f"MathJax could not typeset: {text!r}" for text in self.math_errors]
        out += [f"raw math in visible text: {text!r}" for text in self.raw_math]
        out += [f"markdown pipe table shown as text: {line!r}" for line in self.pipe_table_lines]
        out += [f"image not loaded: {src}" for src in self.broken_images]
        out += [f"printed output wider than the page (scrolls sideways): {line!r}" for line in self.wide_outputs]
        out += [f"console error: {msg}" for msg in self.console_errors]
        out += [f"request to another host: {url}" for url in self.external_requests]
        out += [f"reference to another host: {ref}" for ref in self.external_refs]
        return out


def is_local(url: str) -> bool:
    return url.lower().startswith(LOCAL_SCHEMES)


class Chromium:
    """One headless Chromium process, driven over ``--remote-debugging-pipe``.

    Use as a context manager; :meth:`check_page` opens a fresh tab per page.
    """

    def __init__(self, executable: str | None = None, *, width: int = PAGE_WIDTH, height: int = PAGE_HEIGHT):
        self.executable = executable or find_chromium()
        if not self.executable:
            raise FileNotFoundError(INSTALL_HINT)
        self.width, self.height = width, height
        self._proc: subprocess.Popen | None = None
        self._profile: str | None = None
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []

    # -- process and protocol --------------------------------------------------------
    def __enter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="egd-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():  # Chromium expects its pipe ends on fds 3 (in) and 4 (out)
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            pass_fds=(3, 4), preexec_fn=child_fds, start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.call("Browser.getVersion", timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._proc and self._proc.poll() is None:
                try:
                    self.call("Browser.close", timeout=10)
                except (CDPError, OSError, TimeoutError):
                    pass
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
        finally:
            for fd in (self._to_chrome, self._from_chrome):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            if self._profile:
                shutil.rmtree(self._profile, ignore_errors=True)

    def _read_messages(self, timeout: float) -> None:
        ready, _, _ = select.select([self._from_chrome], [], [], timeout)
        if not ready:
            return
        chunk = os.read(self._from_chrome, 1 << 20)
        if not chunk:
            raise CDPError(f"chromium exited (code {self._proc.poll() if self._proc else None}): {self._stderr_tail()}")
        self._buffer += chunk
        while b"\0" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\0", 1)
            self._events.append(json.loads(raw))

    def _stderr_tail(self) -> str:
        try:
            self._log.seek(0)
            return self._log.read().decode(errors="replace")[-2000:]
        except (OSError, ValueError):
            return ""

    def call(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float = PAGE_TIMEOUT_S) -> dict:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self._next_id += 1
        msg_id = self._next_id
        message = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            for i, msg in enumerate(self._events):
                if msg.get("id") == msg_id:
                    del self._events[i]
                    if "error" in msg:
                        raise CDPError(f"{method}: {msg['error']}")
                    return msg.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method}: no reply within {timeout} s")
            self._read_messages(min(left, 1.0))

    def _take_events(self, session: str) -> list[dict]:
        mine = [m for m in self._events if m.get("sessionId") == session and "method" in m]
        self._events = [m for m in self._events if not (m.get("sessionId") == session and "method" in m)]
        return mine

    def evaluate(self, session: str, expression: str, timeout: float = PAGE_TIMEOUT_S):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True, "timeout": int(timeout * 1000)},
                           session=session, timeout=timeout + 5)
        if "exceptionDetails" in result:
            raise CDPError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    # -- one page --------------------------------------------------------------------
    def check_page(self, url: str, screenshot: Path | None = None, timeout: float = PAGE_TIMEOUT_S) -> PageReport:
        """Open ``url`` as a first-time reader would, let it settle, look at it.

        Each page gets its own browser context (fresh storage, like a first visit) and tab.
        A page that does not load or settle within ``timeout`` seconds is reported, not raised.
        """
        started = time.monotonic()
        report = PageReport(url=url)
        context = self.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
        target = self.call("Target.createTarget", {"url": "about:blank", "browserContextId": context})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        found = None
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=session)
            self.call("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]},
                      session=session)
            self._set_viewport(session, self.height)
            self._take_events(session)
            navigation = self.call("Page.navigate", {"url": url}, session=session)
            if navigation.get("errorText"):
                raise CDPError(f"{url}: {navigation['errorText']}")
            self._wait_for_event(session, "Page.loadEventFired", timeout)
            self.evaluate(session, _SETTLE_JS, timeout)
            # as tall as the page: lazy images load, and the screenshot is the whole page
            height = max(self.height, int(self.evaluate(session, _HEIGHT_JS)))
            self._set_viewport(session, height)
            self.evaluate(session, _SETTLE_JS, timeout)
            if screenshot is not None:
                height = max(self.height, int(self.evaluate(session, _HEIGHT_JS)))
                shot = self.call("Page.captureScreenshot", {
                    "format": "png", "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}},
                    session=session, timeout=timeout)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
                report.screenshot = screenshot
            found = self.evaluate(session, _INSPECT_JS, timeout)
            # late console messages and requests
            deadline = time.monotonic() + 0.2
            while time.monotonic() < deadline:
                self._read_messages(0.05)
        except (CDPError, TimeoutError) as exc:
            report.load_failures.append(f"page did not load and settle: {exc}")
        finally:
            self._collect_events(report, self._take_events(session))
            for method, params in (("Target.closeTarget", {"targetId": target}),
                                   ("Target.disposeBrowserContext", {"browserContextId": context})):
                try:
                    self.call(method, params, timeout=10)
                except (CDPError, TimeoutError):
                    pass
            self._events = [m for m in self._events if "id" in m]  # browser-level events: not needed
        if found is not None:
            report.math_elements = found["mathElements"]
            report.untypeset_math = found["untypesetMath"]
            report.rendered_math = found["renderedMath"]
            report.math_errors = found["mathErrors"]
            report.images = found["images"]
            report.broken_images = found["brokenImages"]
            report.wide_outputs = found["wideOutputs"]
            refs = list(found["references"])
            for href in found["unreadableSheets"]:  # the rules of a file: style sheet are hidden from the page
                refs += _css_file_references(href)
            report.external_refs = sorted({ref for ref in refs if not is_local(ref)})
            text = found["visibleText"]
            report.raw_math = raw_math_in(text)
            report.pipe_table_lines = pipe_table_lines_in(text)
        report.seconds = time.monotonic() - started
        return report

    def _set_viewport(self, session: str, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)

    def _wait_for_event(self, session: str, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if any(m.get("sessionId") == session and m.get("method") == method for m in self._events):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method} not seen within {timeout} s")
            self._read_messages(min(left, 1.0))

    @staticmethod
    def _collect_events(report: PageReport, events: list[dict]) -> None:
        for event in events:
            method, params = event["method"], event.get("params", {})
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                report.requests.append(url)
                if not is_local(url):
                    report.external_requests.append(url)
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
                report.console_errors.append(f"console.{params['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                description = details.get("exception", {}).get("description") or details.get("text", "")
                report.console_errors.append(f"uncaught exception: {description.splitlines()[0] if description else ''}"
                                             f" ({details.get('url', '')}:{details.get('lineNumber', '')})")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                report.console_errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')}"
                                             + (f" ({entry['url']})" if entry.get("url") else ""))


def _css_file_references(href: str | None) -> list[str]:
    """``url(...)`` and ``@import`` targets in a ``file:`` style sheet, made absolute."""
    from urllib.parse import unquote, urljoin, urlparse

    if not href or not href.startswith("file:"):
        return [href] if href else []
    path = Path(unquote(urlparse(href).path))
    if not path.is_file():
        return []
    text = path.read_text(errors="replace")
    targets = re.findall(r"url\(\s*[\"']?([^\"')]+?)[\"']?\s*\)", text) + re.findall(r"@import\s+[\"']([^\"']+)", text)
    return [urljoin(href, target.strip()) for target in targets]


def raw_math_in(text: str) -> list[str]:
    """Each line of ``text`` holding raw TeX, with the marker that was found."""
    found = []
    for line in text.splitlines():
        for name, pattern in RAW_MATH_PATTERNS.items():
            if pattern.search(line):
                found.append(f"[{name}] {line.strip()[:200]}")
                break
    return found


def pipe_table_lines_in(text: str) -> list[str]:
    return [line.strip()[:200] for line in text.splitlines() if PIPE_TABLE_LINE.search(line)]


def static_external_references(root: Path, allowed: dict | None = None) -> list[str]:
    """``file: reference`` for every script, style sheet, font or image on another host named in
    the built ``.html``, ``.css`` and ``.js`` files under ``root``.

    HTML: ``<script src>``, ``<link href>`` (but the reader's ``rel`` kinds: canonical, next,
    ...), ``<img|iframe|source|video|audio src>``, ``url(...)``/``@import`` in inline styles,
    and in inline ``<script>`` bodies what JavaScript is checked for. CSS: ``url(...)`` (fonts
    in ``@font-face`` too) and ``@import``. JavaScript: string literals holding the URL of a
    ``.js``/``.css``/font file, or any URL on a known CDN or web-font host. Anchors
    (``<a href="https://...">``) are for the reader and are not references. ``allowed``
    (default :data:`STATIC_ALLOWED`) exempts named vendored fallbacks.
    """
    allowed = STATIC_ALLOWED if allowed is None else allowed
    js_patterns = (JS_EXTERNAL_ASSET, JS_ASSET_HOST)
    found = set()
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".html", ".css", ".js") or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        text = path.read_text(errors="replace")
        refs = [m for pattern in EXTERNAL_REF_PATTERNS for m in pattern.findall(text)]
        if path.suffix == ".js":
            refs += [m for pattern in js_patterns for m in pattern.findall(text)]
        elif path.suffix == ".html":
            for script in re.findall(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", text, flags=re.S | re.I):
                refs += [m for pattern in js_patterns for m in pattern.findall(script)]
        for ref in refs:
            if not any(rel.startswith(where) and ref.startswith(prefix) for where, prefix in allowed):
                found.add(f"{rel}: {ref}")
    return sorted(found)


# Wait until the page has settled: loaded, MathJax done, fonts and images in.
_SETTLE_JS = r"""
(async () => {
  if (document.readyState !== 'complete')
    await new Promise(r => window.addEventListener('load', r, {once: true}));
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) await mj.startup.promise;
  if (document.fonts) await document.fonts.ready;
  await Promise.all([...document.images].map(img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r, {once: true}); img.addEventListener('error', r, {once: true}); })));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return true;
})()
"""

_HEIGHT_JS = "Math.ceil(Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0))"

# Look at the rendered page.
_INSPECT_JS = r"""
(() => {
  const maths = [...document.querySelectorAll('.math')];
  const untypeset = maths.filter(el => !el.querySelector('mjx-container'))
                         .map(el => el.textContent.trim().slice(0, 80));
  const images = [...document.images];
  const broken = images.filter(img => !img.complete || img.naturalWidth === 0)
                       .map(img => img.currentSrc || img.src || img.outerHTML.slice(0, 120));
  const refs = [];
  const abs = u => { try { return new URL(u, document.baseURI).href; } catch (e) { return String(u); } };
  document.querySelectorAll('script[src]').forEach(el => refs.push(abs(el.getAttribute('src'))));
  document.querySelectorAll('link[href]').forEach(el => {
    const rel = (el.getAttribute('rel') || '').toLowerCase();
    if (/\b(stylesheet|preload|modulepreload|prefetch|icon|manifest|apple-touch-icon|dns-prefetch|preconnect)\b/.test(rel))
      refs.push(abs(el.getAttribute('href')));
  });
  document.querySelectorAll('img[src], iframe[src], source[src], video[src], audio[src], embed[src], track[src]')
    .forEach(el => refs.push(abs(el.getAttribute('src'))));
  document.querySelectorAll('img[srcset], source[srcset]').forEach(el =>
    el.getAttribute('srcset').split(',').forEach(part => { const u = part.trim().split(/\s+/)[0]; if (u) refs.push(abs(u)); }));
  // url(...) in every style sheet the page uses, @font-face included
  const visit = (rules, base) => {
    for (const rule of rules) {
      if (rule.cssRules) visit(rule.cssRules, base);
      if (rule.styleSheet && rule.styleSheet.cssRules) { try { visit(rule.styleSheet.cssRules, rule.styleSheet.href || base); } catch (e) {} }
      if (rule.href && rule.type === CSSRule.IMPORT_RULE) refs.push(new URL(rule.href, base).href);
      const text = rule.style ? rule.style.cssText : '';
      for (const m of text.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g)) {
        try { refs.push(new URL(m[1], base).href); } catch (e) { refs.push(m[1]); }
      }
    }
  };
  let unreadableSheets = [];
  for (const sheet of document.styleSheets) {
    try { visit(sheet.cssRules, sheet.href || document.baseURI); }
    catch (e) { unreadableSheets.push(sheet.href); }
  }
  // visible text, without what is shown as code and without the renderer's own output
  const hide = document.createElement('style');
  hide.textContent = `script, style, noscript, template, code, kbd, samp, textarea,
    .cell_input, pre:not(.cell_output pre), div.highlight:not(.cell_output div.highlight),
    mjx-container, .MathJax_Preview { display: none !important; }`;
  document.head.appendChild(hide);
  const visibleText = document.body ? document.body.innerText : '';
  hide.remove();
  return {
    mathElements: maths.length, untypesetMath: untypeset,
    renderedMath: document.querySelectorAll('mjx-container').length,
    // TeX errors (MathJax shows their message in place of the formula) and undefined macros
    // (shown in red, by name); read from the assistive MathML that MathJax adds to each formula
    mathErrors: [
      ...[...document.querySelectorAll('mjx-container merror')].map(el =>
        'TeX error: ' + (el.getAttribute('data-mjx-error') || el.textContent).trim().slice(0, 120)),
      ...[...document.querySelectorAll('mjx-container mtext[mathcolor="red"]')]
        .filter(el => el.textContent.trim().startsWith('\\'))
        .map(el => 'undefined macro ' + el.textContent.trim().slice(0, 60)),
    ],
    images: images.length, brokenImages: broken,
    references: [...new Set(refs)], unreadableSheets, visibleText,
    // printed output (print, a stream) that the reader would scroll sideways to read
    wideOutputs: [...document.querySelectorAll('.cell_output .output.stream pre')]
      .filter(el => el.scrollWidth > el.clientWidth + 1)
      .map(el => el.textContent.split('\n').reduce((a, b) => b.length > a.length ? b : a, '').slice(0, 120)),
  };
})()
"""
