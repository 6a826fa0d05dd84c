#!/usr/bin/env python3
"""Drives dyn53's Merlin addon page in headless Chromium, served the way the router's httpd
serves it, and saves it through the real service-event hook.

Stood in for (the router's web server cannot run here; each piece is the minimum):
  - httpd's ASP engine: only `<% get_custom_settings(); %>` (the settings file as a JSON
    object, as the firmware embeds it) and `<% nvram_get(...); %>` (empty) are expanded;
  - httpd's /start_apply.htm: merges the posted amng_custom JSON into custom_settings.txt
    ("key value" lines; an empty value removes the key, as the firmware does), then runs
    `service-event start dyn53` (the real hook, under BusyBox ash) when action_script is
    start_dyn53, as rc does for the firmware;
  - the firmware's own menu, CSS and JS files (state.js, general.js...): absent (404); the
    page does not depend on them.
Everything else is real: the page file install.sh mounted, Chromium, the hook, dyn53.

Usage: merlin_webui.py WWW PAGE SETTINGS PASTE OUTDIR -- HOOK-COMMAND...
(PAGE: the slot install.sh took, e.g. user2.asp, served as /user2.asp.)
Checks run by the caller on the files; this script fails (exit 1) if the page does not
behave: form not filled from the paste, no save, or no status shown within 90 s.
"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from browser import Browser  # noqa: E402  (tests/support/browser.py)

www, page, settings_path, paste_file, outdir = sys.argv[1:6]
hook = sys.argv[sys.argv.index("--") + 1 :]
posts = []


def read_settings():
    out = {}
    if os.path.exists(settings_path):
        for line in open(settings_path, encoding="utf-8"):
            key, _, value = line.rstrip("\n").partition(" ")
            if key:
                out[key] = value
    return out


class Httpd(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, code, body, ctype="text/html"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        # httpd serves the addon pages /www/user/userN.asp as /userN.asp.
        if path.startswith("/user") and path.endswith(".asp") and "/" not in path[1:]:
            path = "/user" + path
        if ".." in path:
            return self.send(403, b"forbidden")
        file = os.path.join(www, path.lstrip("/"))
        if not os.path.isfile(file):
            return self.send(404, b"not found")
        body = open(file, "rb").read()
        if path.endswith(".asp"):
            text = body.decode()
            text = text.replace("<% get_custom_settings(); %>", json.dumps(read_settings()))
            text = text.replace('<% nvram_get("preferred_lang"); %>', "EN")
            text = text.replace('<% nvram_get("firmver"); %>', "3004.388.8")
            body = text.encode()
        self.send(200, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        if urllib.parse.urlparse(self.path).path != "/start_apply.htm":
            print(f"merlin_webui: POST to {self.path}, not /start_apply.htm", file=sys.stderr)
            return self.send(404, b"not found")
        custom = json.loads(form.get("amng_custom", ["{}"])[0] or "{}")
        settings = read_settings()
        for key, value in custom.items():
            if value == "":
                settings.pop(key, None)
            else:
                settings[key] = str(value)
        with open(settings_path, "w", encoding="utf-8") as f:
            f.writelines(f"{k} {v}\n" for k, v in settings.items())
        script = form.get("action_script", [""])[0]
        rc = None
        if script.startswith("start_"):
            rc = subprocess.run(hook + ["start", script[len("start_") :]], timeout=60).returncode
        posts.append({"form_keys": sorted(form), "amng_custom": custom, "hook_rc": rc})
        self.send(200, b"<html><script>parent.location.reload && 0;</script>ok</html>")


server = ThreadingHTTPServer(("127.0.0.1", 0), Httpd)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]

browser = Browser(width=1000, height=900)


def fail(msg):
    print(f"merlin_webui: {msg}", file=sys.stderr)
    browser.close()
    server.shutdown()
    sys.exit(1)


def js(expr):
    try:
        return browser.js(expr)
    except RuntimeError as e:
        fail(f"page script error: {e}")


def text(element_id):
    return js(f"document.getElementById('{element_id}').innerText")


def shot(name):
    r = json.loads(js("JSON.stringify(document.getElementById('dyn53').getBoundingClientRect())"))
    clip = {"x": r["x"] - 8, "y": r["y"] - 8, "width": r["width"] + 16, "height": r["height"] + 16}
    browser.screenshot(os.path.join(outdir, name), clip=clip)


def wait_for(expr, what, secs=90):
    if not browser.wait(expr, secs):
        fail(f"timed out waiting for {what}: {js('document.body.innerText')!r}")


try:
    browser.send("Page.enable")
    url = f"http://127.0.0.1:{port}/{page}"
    browser.send("Page.navigate", url=url)
    wait_for("document.readyState === 'complete' && !!document.form", "the page")
    wait_for("document.getElementById('status').textContent !== 'Loading...'", "the status area")
    print(f"page {page}: {text('status')}")
    # The caller may leave a status file with markup in it: it must show as text only.
    with open(os.path.join(outdir, "status-before-save.html"), "w") as f:
        f.write(js("document.getElementById('status').outerHTML"))
    if not js("window.__pwned === undefined && !document.querySelector('#status img, #status b')"):
        fail("markup from the status file became elements or ran")
    print(f"secret note: {text('secret_note')}")
    js("alert = function (m) { window.lastAlert = m; }")
    paste = open(paste_file).read()
    js(f"document.getElementById('paste').value = {json.dumps(paste)}")
    shot("merlin-paste.png")
    js("document.getElementById('fill').click()")
    filled = js(
        "JSON.stringify({url: document.form.dyn53_url.value, records: document.form.dyn53_records.value,"
        " secret: document.form.dyn53_secret.value.length, protocol: document.form.dyn53_protocol.value,"
        " lan_prefix: document.form.dyn53_lan_prefix.checked})"
    )
    print(f"filled from the paste: {filled}")
    filled = json.loads(filled)
    if not (filled["url"] and filled["records"] and filled["secret"] > 0):
        fail(f"the paste box did not fill the form: {filled}")
    js("document.getElementById('apply').click()")
    if js("window.lastAlert || ''"):
        fail(f"the page refused to save: {js('window.lastAlert')}")
    end = time.time() + 60
    while not posts and time.time() < end:
        time.sleep(0.2)
    if not posts:
        fail("no POST /start_apply.htm arrived")
    print(f"posted: {json.dumps(posts[0])}")
    # The page reloads itself 5 s after Apply; the update runs in the background meanwhile.
    wait_for(
        "!!document.querySelector('#status .record') && "
        "document.getElementById('status').textContent.includes(' A: ') && "
        "!/^Last save: $/.test(document.getElementById('save_result').textContent)",
        "the status of the first update",
    )
    time.sleep(0.5)
    print(f"status shown: {text('status')!r}")
    print(f"after save: {text('secret_note')}")
    html = js("document.documentElement.outerHTML")
    with open(os.path.join(outdir, "page-after-save.html"), "w") as f:
        f.write(html)
    shot("merlin-status.png")
finally:
    browser.close()
    server.shutdown()
