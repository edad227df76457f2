"""Open a page in a real headless Chromium, offline, and see what it loads and shows.

Chromium (Debian's `chromium`) is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
no port is opened): the page is loaded from its file, every request the page makes is recorded
(Network.requestWillBeSent), each <img> is asked whether it decoded, and the whole page is captured
as a PNG. The browser resolves no host name (--host-resolver-rules), so even its own background
services cannot reach the network while it runs.
"""

import base64
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync",
         "--disable-component-update", "--disable-default-apps", "--disable-extensions", "--no-first-run",
         "--no-default-browser-check", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe",
         "--host-resolver-rules=MAP * ~NOTFOUND")
WIDTH = 1200
STYLE_FONT = 'system-ui, -apple-system, "Segoe UI"'     # how the report's style sheet's font-family begins
IMAGES = ("JSON.stringify(Array.from(document.images).map("
          "image => ({alt: image.alt, complete: image.complete, width: image.naturalWidth})))")


class BrowserError(RuntimeError):
    """Chromium is missing, or did not load the page."""


@dataclass(frozen=True)
class PageVisit:
    requests: list          # every URL the page requested (its first 200 characters), its own file included
    images: list            # [{"alt", "complete", "width"}] per <img>, in page order
    screenshot: bytes       # the whole page, PNG
    text: str               # the page's visible text
    font: str               # the body's font-family, as the browser computed it from the style sheet

    def network_requests(self):
        """The requests that were not for a local file or inline data."""
        return [url for url in self.requests if not url.startswith(("file:", "data:"))]


def find_browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    """The DevTools protocol over Chromium's pipe: JSON messages ended by a NUL byte."""

    def __init__(self, to_browser, from_browser):
        self._to, self._from = to_browser, from_browser
        self._buffer, self._next = b"", 0
        self.events = []

    def _message(self):
        while b"\0" not in self._buffer:
            chunk = os.read(self._from, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method, session=None, **params):
        self._next += 1
        request = {"id": self._next, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self._to, json.dumps(request).encode() + b"\0")
        while True:
            message = self._message()
            if message.get("id") == self._next:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method):
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._message())


def visit(page, *, browser=None, timeout=60):
    """Load `page` (a file) in headless Chromium; returns its PageVisit (BrowserError if it cannot)."""
    browser = browser or find_browser()
    if browser is None:
        raise BrowserError("Chromium is not installed (Debian/Ubuntu: apt-get install chromium)")
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()

    def browser_pipes():            # Chromium reads commands on fd 3 and writes replies on fd 4
        reads, writes = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_read, from_browser_write))
        os.dup2(reads, 3)
        os.dup2(writes, 4)

    with tempfile.TemporaryDirectory(prefix="kit-browser-") as profile:
        process = subprocess.Popen([browser, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   preexec_fn=browser_pipes, pass_fds=(3, 4), start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_read)
        os.close(from_browser_write)
        pipe = _Pipe(to_browser_write, from_browser_read)
        try:
            return _visit(pipe, Path(page).resolve().as_uri())
        finally:
            _close(pipe, process, timeout)
            os.close(to_browser_write)
            os.close(from_browser_read)


def _close(pipe, process, timeout):
    """Close the browser, then end whatever of its processes is left (its own process group)."""
    try:
        pipe.call("Browser.close")
        process.wait(timeout)
    except (BrowserError, OSError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout)


def _visit(pipe, url):
    target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
    session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Network", "Page", "Runtime"):
        pipe.call(f"{domain}.enable", session)
    pipe.call("Emulation.setDeviceMetricsOverride", session, width=WIDTH, height=900, deviceScaleFactor=1,
              mobile=False)
    pipe.events.clear()
    pipe.call("Page.navigate", session, url=url)
    pipe.wait_for("Page.loadEventFired")
    images = json.loads(pipe.call("Runtime.evaluate", session, expression=IMAGES, returnByValue=True)
                        ["result"]["value"])
    text = pipe.call("Runtime.evaluate", session, expression="document.body.innerText",
                     returnByValue=True)["result"]["value"]
    font = pipe.call("Runtime.evaluate", session, expression="getComputedStyle(document.body).fontFamily",
                     returnByValue=True)["result"]["value"]
    size = pipe.call("Page.getLayoutMetrics", session)["cssContentSize"]
    shot = pipe.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                     clip={"x": 0, "y": 0, "width": WIDTH, "height": size["height"], "scale": 1})
    requests = [event["params"]["request"]["url"][:200] for event in pipe.events
                if event.get("method") == "Network.requestWillBeSent"]
    return PageVisit(requests, images, base64.b64decode(shot["data"]), text, font)


def plot_pixels(screenshot, colour):
    """How many pixels of the PNG `screenshot` are `colour` ("#rrggbb"), give or take anti-aliasing."""
    import io

    from PIL import Image
    target = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    counts = Image.open(io.BytesIO(screenshot)).convert("RGB").getcolors(maxcolors=1 << 24)
    return sum(count for count, rgb in counts if sum(abs(a - b) for a, b in zip(rgb, target)) <= 12)


def rendering_problems(page_visit, *, figures, colour, font, least_pixels=2000):
    """What is wrong with a visited report: network requests, a style sheet not applied (the body's
    font-family does not start with `font`), figures that did not decode, figures not painted (fewer
    than `least_pixels` of their bar colour per figure in the screenshot)."""
    problems = [f"the page requested {url}" for url in page_visit.network_requests()]
    if not page_visit.font.startswith(font):
        problems.append(f"the style sheet was not applied: the body's font is {page_visit.font}")
    broken = [image["alt"] for image in page_visit.images if not image["complete"] or not image["width"]]
    if len(page_visit.images) != figures:
        problems.append(f"{len(page_visit.images)} figures on the page, {figures} expected")
    problems += [f"the figure '{alt}' did not decode" for alt in broken]
    painted = plot_pixels(page_visit.screenshot, colour)
    if painted < least_pixels * figures:
        problems.append(f"only {painted} pixels of the figures' colour {colour} were painted "
                        f"(at least {least_pixels} per figure expected)")
    return problems
