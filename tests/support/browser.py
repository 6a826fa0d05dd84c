"""Headless Chromium (Debian's) driven over the DevTools protocol, for the web page tests
(tests/luci, tests/router/merlin_webui.py). Started with the flags this machine needs (no
background networking, no sandbox as root) and a fresh profile; websocket-client (pip)."""

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket  # pip: websocket-client


class Browser:
    """One Chromium process with one page; `close()` ends it and removes its profile."""

    def __init__(self, width=1100, height=1000):
        self.profile = tempfile.mkdtemp(prefix="dyn53-chromium-")
        self.proc = subprocess.Popen([
            shutil.which("chromium") or "/usr/bin/chromium", "--headless", "--no-sandbox",
            "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.ws = websocket.create_connection(self._page_url(), timeout=30,
                                                  suppress_origin=True)
        except BaseException:
            self.close()
            raise
        self.n = 0

    def _page_url(self):
        # Chromium picks a free port (0) and writes it to DevToolsActivePort.
        for _ in range(300):
            try:
                with open(f"{self.profile}/DevToolsActivePort") as f:
                    port = int(f.read().split()[0])
                pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2))
                return next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"]
            except (OSError, ValueError, IndexError, StopIteration):
                time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port")

    def send(self, method, **params):
        """One DevTools call; its result, or RuntimeError."""
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expr):
        """The value of a JS expression (awaited when it is a promise)."""
        r = self.send("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS error in {expr[:80]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, secs=15):
        """Whether EXPR became truthy within SECS (a page reload in between is tolerated)."""
        end = time.time() + secs
        while time.time() < end:
            try:
                if self.js(f"!!({expr})"):
                    return True
            except (websocket.WebSocketException, OSError):
                pass
            time.sleep(0.1)
        return False

    def screenshot(self, path, clip=None):
        """Saves a PNG of the page (or of CLIP: x, y, width, height); returns its size."""
        extra = {"clip": dict(clip, scale=1)} if clip else {}
        png = base64.b64decode(self.send("Page.captureScreenshot", format="png",
                                          captureBeyondViewport=True, **extra)["data"])
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    def close(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)
