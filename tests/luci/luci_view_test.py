#!/usr/bin/env python3
"""luci-app-dyn53 in a real browser: headless Chromium (Debian's) loads the real view file
from a small server on 127.0.0.1 that answers LuCI's ubus JSON-RPC the way rpcd would,
under the app's own acl.d grants; the test pastes a `host add` block, saves, and checks
the ubus calls the view made (uci add/set/delete, file write of the secret with mode 0600),
the UCI file and secret file that result (read back by the real dyn53 client), the status
rendering, Update now, and that acl.d grants nothing more than listed.

Stood in (see tests/luci/standin/luci.js for the browser side):
  - LuCI's JS runtime (luci.js, form.js, uci.js, fs.js, ui.js): not available here.
  - rpcd and uhttpd: this server's /ubus implements file read/write/exec and uci
    get/add/set/delete/apply with rpcd's semantics for what the view calls (ACL match on the
    path, then on "command args"; write creates with the given mode under umask 0).
    The session holds ONLY this app's acl.d grants plus the ubus methods luci-base's
    luci-access group grants every admin, so any call the app's ACL does not cover fails.
  - `/usr/bin/dyn53 update|check` behind file exec: no backend runs here, so the stand-in
    writes a status file in the agreed shape and prints a line, as dyn53 would.

Usage: luci_view_test.py [--shots DIR]   (screenshots also go to the output directory)
Output directory: $DYN53_TEST_OUT/luci (default target/test-output/luci).
"""

import fnmatch
import http.server
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from browser import Browser  # noqa: E402  (tests/support/browser.py)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
APP = os.path.join(REPO, "openwrt", "luci-app-dyn53")
ACL_FILE = os.path.join(APP, "root/usr/share/rpcd/acl.d/luci-app-dyn53.json")
MENU_FILE = os.path.join(APP, "root/usr/share/luci/menu.d/luci-app-dyn53.json")
STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "standin")
CLIENT = os.path.join(os.environ.get("DIST", os.path.join(REPO, "dist")),
                      "x86_64-unknown-linux-musl", "dyn53")
SECRET = "Zq3vT9wLk2N8xR4pH7sB1mC6dF0gJ5aY"
# What `dyn53-backend host add home-1.example.com --type A --type AAAA` prints for OpenWrt
# (lambda/src/client_config.rs: openwrt()), as a user pastes it, with a blank line around.
PASTED = f"""
config dyn53 'global'
	option enabled '1'
	option url 'https://abcdefgh.lambda-url.eu-west-1.on.aws/'
	option secret '{SECRET}'
	option protocol '2'
	option timeout '60'
	option check_interval '600'

config record 'home_1'
	option hostname 'home-1.example.com'
	option type 'A'
	option interface 'wan'
	option enabled '1'
	option explicit_ip '0'

config record 'home_1_v6'
	option hostname 'home-1.example.com'
	option type 'AAAA'
	option interface 'wan6 wan_6'
	option enabled '1'
	option explicit_ip '0'
"""
STATUS = {"time": 1764577200, "exit": 0, "records": [
    {"hostname": "home.example.com", "type": "A", "result": "changed", "address": "203.0.113.7",
     "previous": "198.51.100.4", "message": "changed 198.51.100.4 -> 203.0.113.7",
     "time": 1764577200},
    {"hostname": "home.example.com", "type": "AAAA", "result": "error",
     "message": "no IPv6 address on wan6", "time": 1764577200},
    # The entry of the update that sent the LAN prefix (src/status.rs), with markup where
    # names go: a status file is data, never HTML.
    {"hostname": "home.example.com", "type": "AAAA", "result": "unchanged",
     "address": "2001:db8::7", "message": "unchanged 2001:db8::7 <img src=x onerror=window.__pwned=1>",
     "time": 1764577200, "lan_prefix": "2001:db8:1:10::/64",
     "lan": "nas.example.com=2001:db8:1:10::1234 cam.example.com=2001:db8:1:10:211:22ff:fe33:4455 "
            "<b>x</b><img/src=x/onerror=window.__pwned=2>=2001:db8:1:10::9"}]}
# The ubus methods luci-base's "luci-access" group grants every admin session (its acl.d);
# paths and configs still need the app's own grants.
LUCI_ACCESS_UBUS = {("file", "read"), ("file", "write"), ("file", "exec"), ("uci", "get"),
                    ("uci", "add"), ("uci", "set"), ("uci", "delete"), ("uci", "apply")}
UBUS_OK, UBUS_INVALID, UBUS_NOT_FOUND, UBUS_DENIED = 0, 2, 4, 6

failed = 0


def ok(what, cond, detail=""):
    global failed
    print(f"  {'ok  ' if cond else 'FAIL'} {what}" + (f"\n       {detail}" if detail and not cond else ""))
    failed += 0 if cond else 1
    return cond


# --- UCI files, as /sbin/uci reads and writes them ------------------------------------

def uci_words(line):
    """The words of a UCI line: bare, '...' or "..."; a # outside quotes ends the line."""
    words = []
    for m in re.finditer(r"'([^']*)'|\"([^\"]*)\"|(#.*)|([^\s'\"#]+)", line):
        if m.group(3) is not None:
            break
        words.append(next(g for g in (m.group(1), m.group(2), m.group(4)) if g is not None))
    return words


def uci_parse(text):
    """Sections in order: [{'.name', '.type', '.anonymous', option: value}]."""
    out, n = [], 0
    for line in text.splitlines():
        w = uci_words(line)
        if not w:
            continue
        if w[0] == "config":
            name = w[2] if len(w) > 2 else f"cfg{n:02x}"
            n += 1
            out.append({".name": name, ".type": w[1], ".anonymous": len(w) < 3})
        elif w[0] == "option" and out:
            out[-1][w[1]] = w[2]
    return out


def uci_write(sections):
    q = lambda v: "'" + str(v).replace("'", "'\\''") + "'"  # noqa: E731
    lines = []
    for s in sections:
        lines.append(f"config {s['.type']}" + ("" if s[".anonymous"] else f" {q(s['.name'])}"))
        lines += [f"\toption {k} {q(v)}" for k, v in s.items() if not k.startswith(".")]
        lines.append("")
    return "\n".join(lines)


# --- rpcd stand-in ----------------------------------------------------------------------

class Router:
    """The router's files under root, its staged UCI changes, and the app's ACL."""

    def __init__(self, root, acl):
        self.root, self.calls, self.lock = root, [], threading.Lock()
        grants = acl["luci-app-dyn53"]
        self.file_acl = {}
        for level in ("read", "write"):
            for pattern, perms in grants.get(level, {}).get("file", {}).items():
                self.file_acl.setdefault(pattern, set()).update(perms)
        self.uci_read = set(grants.get("read", {}).get("uci", []))
        self.uci_write = set(grants.get("write", {}).get("uci", []))
        self.staged = None

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def allowed(self, name, perm):
        return any(fnmatch.fnmatchcase(name, pat) and perm in perms
                   for pat, perms in self.file_acl.items())

    def config(self):
        if self.staged is None:
            with open(self.path("/etc/config/dyn53")) as f:
                self.staged = uci_parse(f.read())
        return self.staged

    def call(self, obj, method, p):
        with self.lock:
            code, data = self._call(obj, method, p)
            self.calls.append({"object": obj, "method": method, "params": p, "status": code})
            return code, data

    def _call(self, obj, method, p):
        if (obj, method) not in LUCI_ACCESS_UBUS:
            return UBUS_DENIED, None
        if obj == "file":
            path = os.path.normpath(p.get("path", p.get("command", "")))
            if method == "read":
                if not self.allowed(path, "read"):
                    return UBUS_DENIED, None
                try:
                    with open(self.path(path)) as f:
                        return UBUS_OK, {"data": f.read()}
                except FileNotFoundError:
                    return UBUS_NOT_FOUND, None
            if method == "write":
                if not self.allowed(path, "write") or "data" not in p:
                    return UBUS_DENIED, None
                old = os.umask(0)  # rpcd: open(O_CREAT, mode) under umask 0
                try:
                    fd = os.open(self.path(path), os.O_CREAT | os.O_WRONLY | os.O_TRUNC,
                                 p.get("mode", 0o666))
                finally:
                    os.umask(old)
                with os.fdopen(fd, "w") as f:
                    f.write(p["data"])
                return UBUS_OK, None
            # exec: the command alone, else "command arg..." must be granted (rpcd file.c).
            args = [a for a in p.get("params", []) if isinstance(a, str)]
            if not (self.allowed(path, "exec") or self.allowed(" ".join([path] + args), "exec")):
                return UBUS_DENIED, None
            return UBUS_OK, self.dyn53(args)
        conf = p.get("config")
        if method == "apply":
            self.commit()
            return UBUS_OK, None
        if conf not in (self.uci_read if method == "get" else self.uci_write):
            return UBUS_DENIED, None
        secs = self.config()
        by_name = {s[".name"]: s for s in secs}
        if method == "get":
            return UBUS_OK, {"values": {s[".name"]: dict(s, **{".index": i})
                                        for i, s in enumerate(secs)}}
        if method == "add":
            name = p.get("name") or f"cfg{len(secs):02x}{int(time.time()) % 256:02x}"
            if name in by_name:
                return UBUS_INVALID, None
            secs.append(dict({".name": name, ".type": p["type"], ".anonymous": not p.get("name")},
                             **p.get("values", {})))
            return UBUS_OK, {"section": name}
        s = by_name.get(p.get("section"))
        if s is None:
            return UBUS_NOT_FOUND, None
        if method == "set":
            s.update({k: str(v) for k, v in p["values"].items()})
        elif p.get("options") or p.get("option"):  # rpcd: options (array) or option
            for k in p.get("options") or [p["option"]]:
                s.pop(k, None)
        else:
            secs.remove(s)
        return UBUS_OK, None

    def commit(self):
        if self.staged is not None:
            with open(self.path("/etc/config/dyn53"), "w") as f:
                f.write(uci_write(self.staged))
            self.staged = None

    def dyn53(self, args):
        """Stand-in for /usr/bin/dyn53 update|check: a status file in the agreed shape."""
        with open(self.path("/etc/config/dyn53")) as f:
            recs = [s for s in uci_parse(f.read())
                    if s[".type"] == "record" and s.get("enabled", "1") == "1"]
        with open(self.path("/var/run/dyn53/status.json")) as f:
            seen = {(r["hostname"], r["type"]) for r in json.load(f)["records"]}
        now, rows = int(time.time()), []
        for r in recs:
            t = r.get("type", "A")
            addr = "203.0.113.7" if t == "A" else "2001:db8::7"
            new = (r["hostname"], t) not in seen  # a first update sets the record
            rows.append({"hostname": r["hostname"], "type": t, "address": addr, "time": now,
                         "result": "changed" if new else "unchanged",
                         "message": f"set to {addr}" if new else "unchanged"})
        st = {"time": now, "exit": 0, "records": rows}
        if args == ["update"]:
            os.makedirs(self.path("/var/run/dyn53"), exist_ok=True)
            with open(self.path("/var/run/dyn53/status.json.tmp"), "w") as f:
                json.dump(st, f)
            os.rename(self.path("/var/run/dyn53/status.json.tmp"), self.path("/var/run/dyn53/status.json"))
        out = "".join(f"{r['hostname']} {r['type']}: {r['message']}\n" for r in rows)
        return {"code": 0, "stdout": out, "stderr": ""}


def serve(router):
    files = {
        "/": (os.path.join(STANDIN, "index.html"), "text/html"),
        "/luci-static/resources/standin/luci.js": (os.path.join(STANDIN, "luci.js"), "text/javascript"),
        "/luci-static/resources/view/dyn53/config.js":
            (os.path.join(APP, "htdocs/luci-static/resources/view/dyn53/config.js"), "text/javascript"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path not in files:
                return self.reply(404, b"not found", "text/plain")
            with open(files[self.path][0], "rb") as f:
                self.reply(200, f.read(), files[self.path][1])

        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/ubus" or req.get("method") != "call":
                return self.reply(404, b"not found", "text/plain")
            _sid, obj, method, params = req["params"]
            code, data = router.call(obj, method, params)
            result = [code] if data is None else [code, data]
            self.reply(200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode(),
                       "application/json")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def check_acl():
    """acl.d grants exactly the listed access: no ubus objects, no wildcards, no more."""
    print("acl.d and menu.d")
    with open(ACL_FILE) as f:
        acl = json.load(f)
    want = {"luci-app-dyn53": {
        "description": acl.get("luci-app-dyn53", {}).get("description"),
        "read": {"file": {"/var/run/dyn53/status.json": ["read"]}, "uci": ["dyn53"]},
        "write": {"file": {"/etc/dyn53.secret": ["write"], "/usr/bin/dyn53 update": ["exec"],
                           "/usr/bin/dyn53 check": ["exec"]}, "uci": ["dyn53"]}}}
    ok("acl.d: one group luci-app-dyn53 with a description", list(acl) == ["luci-app-dyn53"]
       and isinstance(want["luci-app-dyn53"]["description"], str))
    ok("grants exactly: read dyn53 UCI and the status file; write dyn53 UCI and the secret "
       "file; exec only '/usr/bin/dyn53 update' and '/usr/bin/dyn53 check'", acl == want,
       json.dumps(acl))
    g = acl.get("luci-app-dyn53", {})
    names = [n for lv in ("read", "write") for n in list(g.get(lv, {}).get("file", {}))
             + g.get(lv, {}).get("uci", [])]
    ok("no wildcard (* ? [) in any path, command or config; no ubus or cgi-io grants",
       names and not any(re.search(r"[*?\[]", n) for n in names)
       and not any(k in g.get(lv, {}) for lv in ("read", "write") for k in ("ubus", "cgi-io")))
    with open(MENU_FILE) as f:
        menu = json.load(f)
    entry = menu.get("admin/services/dyn53", {})
    view = entry.get("action", {}).get("path", "")
    ok("menu.d: Services -> dyn53, a view that exists, behind the app's ACL",
       entry.get("action", {}).get("type") == "view" and os.path.isfile(
           os.path.join(APP, "htdocs/luci-static/resources/view", view + ".js"))
       and entry.get("depends", {}).get("acl") == ["luci-app-dyn53"])
    return acl


def main():
    out = os.path.join(os.environ.get("DYN53_TEST_OUT", os.path.join(REPO, "target", "test-output")), "luci")
    shots = sys.argv[sys.argv.index("--shots") + 1] if "--shots" in sys.argv else None
    os.makedirs(out, exist_ok=True)
    acl = check_acl()
    tmp = tempfile.mkdtemp(prefix="dyn53-luci.")
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "etc/config"))
    os.makedirs(os.path.join(root, "var/run/dyn53"))
    shutil.copy(os.path.join(REPO, "openwrt/files/dyn53.config"), os.path.join(root, "etc/config/dyn53"))
    with open(os.path.join(root, "var/run/dyn53/status.json"), "w") as f:
        json.dump(STATUS, f)
    router = Router(root, acl)
    srv = serve(router)
    b = Browser()
    try:
        run(b, router, srv.server_address[1], root, out, shots)
    finally:
        b.close()
        srv.shutdown()
        if failed == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"  (router root kept: {root})")
    print(f"luci_view_test.py: {failed} failed; screenshots in {out}")
    return 1 if failed else 0


def value(b, option, section=None):
    sel = f"[data-option={option}]" + (f"[data-section={section}]" if section else "")
    return b.js(f"(e => e && (e.type == 'checkbox' ? String(e.checked) : e.value))"
                f"(document.querySelector('{sel}'))")


def run(b, router, port, root, out, shots):
    print("the view in headless Chromium (the real view file, LuCI stood in)")
    b.send("Page.enable")
    b.send("Page.navigate", url=f"http://127.0.0.1:{port}/")
    loaded = b.wait("window.__ready || window.__loadError")
    err = b.js("window.__loadError || ''")
    if not ok("the view loads and renders", loaded and not err, err):
        return
    text = b.js("document.getElementById('dyn53-status').innerText")
    ok("status: the last run's time and exit code", "exit code 0 (ok)" in text, text)
    ok("status: a row per record with result, address, previous and message",
       all(s in text for s in ("home.example.com", "changed", "203.0.113.7", "198.51.100.4",
                               "changed 198.51.100.4 -> 203.0.113.7", "AAAA", "error",
                               "no IPv6 address on wan6")), text)
    lan = b.js("[...document.querySelectorAll('#dyn53-status .dyn53-lan tr')]"
               ".map(tr => [...tr.children].map(td => td.textContent).join(' -> '))")
    heading = b.js("(h => h ? h.textContent : '')(document.querySelector('#dyn53-status .dyn53-lan h4'))")
    ok("status: the LAN records the backend named, name -> address, under the prefix sent",
       "2001:db8:1:10::/64" in heading and lan[1:3] == [
           "nas.example.com -> 2001:db8:1:10::1234",
           "cam.example.com -> 2001:db8:1:10:211:22ff:fe33:4455"], f"{heading} {lan}")
    ok("status: markup in a status file shows as text and never runs",
       b.js("window.__pwned === undefined && !document.querySelector('#dyn53-status img, #dyn53-status b')")
       and "<b>x</b><img/src=x/onerror=window.__pwned=2> -> 2001:db8:1:10::9" in lan
       and "<img src=x onerror=window.__pwned=1>" in text, f"{lan} {text}")
    ok("the form shows the packaged config: url empty, a record home.example.com",
       value(b, "url") == "" and value(b, "hostname", "home") == "home.example.com")
    ok("the secret field is a password field and shows nothing",
       b.js("document.querySelector('[data-option=secret]').type") == "password"
       and value(b, "secret") == "")
    protocols = b.js("[...document.querySelector('[data-option=protocol]').options].map(o => o.value)")
    ok("protocol offers the client's values: 2, 1 and 1-query", protocols == ["2", "1", "1-query"],
       json.dumps(protocols))
    b.screenshot(os.path.join(out, "luci-status.png"))

    print("paste box")
    before = len(router.calls)
    b.js("document.getElementById('dyn53-paste').value = 'config dyn53\\n\\toption url \"ftp://x\"\\n'")
    b.js("document.getElementById('dyn53-fill').click()")
    b.wait("document.querySelector('.alert-message.danger')")
    note = b.js("document.querySelector('.alert-message.danger') ? "
                "document.querySelector('.alert-message.danger').innerText : ''")
    ok("a block that is not host add's output is refused with a reason, nothing filled in",
       "Not pasted" in note and value(b, "url") == "" and len(router.calls) == before, note)
    b.js(f"document.getElementById('dyn53-paste').value = {json.dumps(PASTED)}")
    b.js("document.getElementById('dyn53-fill').click()")
    b.wait("document.querySelector('[data-option=hostname][data-section=home_1]')")
    ok("filled in: url, enabled, records home_1 (A, wan) and home_1_v6 (AAAA, wan6 wan_6)",
       value(b, "url") == "https://abcdefgh.lambda-url.eu-west-1.on.aws/"
       and value(b, "enabled", "global") == "true"
       and value(b, "hostname", "home_1") == "home-1.example.com"
       and value(b, "type", "home_1_v6") == "AAAA"
       and value(b, "interface", "home_1_v6") == "wan6 wan_6")
    ok("the packaged example records are gone from the form (one router, one secret)",
       b.js("document.querySelectorAll('[data-option=hostname][data-section=home], "
            "[data-option=hostname][data-section=home6]').length") == 0)
    ok("the secret went into the (password) secret field", value(b, "secret") == SECRET)
    ok("filling in made no ubus call that changes anything (only Save does)",
       all(c["method"] in ("get", "read") for c in router.calls[before:]))
    b.screenshot(os.path.join(out, "luci-pasted.png"))

    print("Save & Apply")
    before = len(router.calls)
    b.js("(e => { e.value = 'bad host!'; })(document.querySelector('[data-option=hostname][data-section=home_1]'))")
    b.js("document.getElementById('save-apply').click()")
    b.wait("window.__saveError")
    ok("an invalid hostname: Save is refused, naming the field; no file written, no UCI change",
       "Hostname" in (b.js("window.__saveError") or "") and not os.path.exists(
           os.path.join(root, "etc/dyn53.secret"))
       and all(c["method"] in ("get", "read") for c in router.calls[before:]),
       str(b.js("window.__saveError")))
    b.js("(e => { e.value = 'home-1.example.com'; })(document.querySelector('[data-option=hostname][data-section=home_1]'))")
    b.js("document.getElementById('notifications').replaceChildren(); window.__saveError = null")
    b.js("document.getElementById('save-apply').click()")
    saved = b.wait("window.__saved >= 1 || window.__saveError")
    calls = router.calls[before:]
    ok("saved without an error", saved and b.js("window.__saved") == 1,
       b.js("document.getElementById('notifications').innerText"))
    denied = [c for c in router.calls if c["status"] == UBUS_DENIED]
    ok("no call was refused by the ACL", not denied, json.dumps(denied))
    writes = [c for c in calls if c["object"] == "file" and c["method"] == "write"]
    ok("file write: /etc/dyn53.secret, mode 0600 (384), the pasted secret",
       len(writes) == 1 and writes[0]["params"] == {"path": "/etc/dyn53.secret",
                                                     "data": SECRET + "\n", "mode": 0o600},
       json.dumps(writes))
    sf = os.path.join(root, "etc/dyn53.secret")
    mode = stat.S_IMODE(os.stat(sf).st_mode) if os.path.exists(sf) else None
    ok("the secret file exists with mode 0600", mode == 0o600, str(mode))
    uci = [(c["method"], c["params"]) for c in calls if c["object"] == "uci"]
    adds = [p for m, p in uci if m == "add"]
    ok("uci add: home_1 and home_1_v6 with their options",
       sorted((p["name"], p["type"], p["values"].get("hostname"), p["values"].get("type"),
               p["values"].get("interface"), p["values"].get("enabled")) for p in adds)
       == [("home_1", "record", "home-1.example.com", "A", "wan", "1"),
           ("home_1_v6", "record", "home-1.example.com", "AAAA", "wan6 wan_6", "1")],
       json.dumps(adds))
    sets = {p["section"]: p["values"] for m, p in uci if m == "set"}
    g = sets.get("global", {})
    ok("uci set global: enabled 1, url, secret_file /etc/dyn53.secret; no secret in UCI",
       g.get("enabled") == "1" and g.get("url") == "https://abcdefgh.lambda-url.eu-west-1.on.aws/"
       and g.get("secret_file") == "/etc/dyn53.secret"
       and not any("secret" in p.get("values", {}) for _m, p in uci), json.dumps(uci))
    dels = sorted(p["section"] for m, p in uci if m == "delete" and not p.get("options"))
    ok("uci delete: the example records home and home6", dels == ["home", "home6"], json.dumps(uci))
    ok("then uci apply", uci and uci[-1][0] == "apply")
    with open(os.path.join(root, "etc/config/dyn53")) as f:
        conf = f.read()
    ok("the committed /etc/config/dyn53 holds no secret", SECRET not in conf)
    ok("after saving, the secret field is empty again (never shown back)", value(b, "secret") == "")

    # The real client reads what was saved: the config and the secret file it names.
    if os.access(CLIENT, os.X_OK):
        copy = os.path.join(root, "dyn53.uci")
        with open(copy, "w") as f:
            f.write(conf.replace("/etc/dyn53.secret", os.path.join(root, "etc/dyn53.secret")))
        os.chmod(copy, 0o600)
        r = subprocess.run([CLIENT, "-c", copy, "interfaces"], capture_output=True, text=True)
        ok("the real dyn53 client accepts the saved config and secret: interfaces wan wan6 wan_6",
           r.returncode == 0 and r.stdout.split() == ["wan", "wan6", "wan_6"], r.stdout + r.stderr)
    else:
        ok(f"the router binary {CLIENT} exists (make router)", False)

    print("Update now")
    before = len(router.calls)
    b.js("document.getElementById('dyn53-update').click()")
    b.wait("document.getElementById('dyn53-status').innerText.includes('home-1.example.com')")
    if shots:
        b.js("document.getElementById('notifications').replaceChildren()")
        os.makedirs(shots, exist_ok=True)
        b.screenshot(os.path.join(shots, "luci-dyn53.png"))
    execs = [c["params"] for c in router.calls[before:] if c["method"] == "exec"]
    ok("file exec: /usr/bin/dyn53 with params [update], then the status re-read",
       execs == [{"command": "/usr/bin/dyn53", "params": ["update"]}]
       and router.calls[-1]["method"] == "read", json.dumps(execs))
    text = b.js("document.getElementById('dyn53-status').innerText")
    ok("status shows the new run for home-1.example.com A and AAAA",
       "home-1.example.com" in text and "2001:db8::7" in text and "set to 203.0.113.7" in text, text)
    b.js("document.getElementById('dyn53-check').click()")
    b.wait("document.querySelectorAll('.alert-message.info').length >= 3")
    ok("Check DNS: file exec /usr/bin/dyn53 [check]", router.calls[-2]["params"]
       == {"command": "/usr/bin/dyn53", "params": ["check"]}, json.dumps(router.calls[-2:]))

    print("the ACL holds in the browser")
    for what, expr in (
            ("reading the secret back (fs.read /etc/dyn53.secret)", "fs.read('/etc/dyn53.secret')"),
            ("exec of anything else (dyn53 update --dry-run)", "fs.exec('/usr/bin/dyn53', ['update', '--dry-run'])"),
            ("writing another file (/etc/config/network)", "fs.write('/etc/config/network', 'x')")):
        r = b.js(f"(() => {{ const fs = {{read: (p) => fetch('/ubus', {{method: 'POST', body: JSON.stringify("
                 f"{{jsonrpc: '2.0', id: 9, method: 'call', params: ['0', 'file', 'read', {{path: p}}]}})}}).then(r => r.json())"
                 f".then(j => j.result[0]), exec: (c, a) => fetch('/ubus', {{method: 'POST', body: JSON.stringify("
                 f"{{jsonrpc: '2.0', id: 9, method: 'call', params: ['0', 'file', 'exec', {{command: c, params: a}}]}})}})"
                 f".then(r => r.json()).then(j => j.result[0]), write: (p, d) => fetch('/ubus', {{method: 'POST', "
                 f"body: JSON.stringify({{jsonrpc: '2.0', id: 9, method: 'call', params: ['0', 'file', 'write', "
                 f"{{path: p, data: d}}]}})}}).then(r => r.json()).then(j => j.result[0])}}; return {expr}; }})()")
        ok(f"refused (ubus status 6): {what}", r == UBUS_DENIED, str(r))
    b.screenshot(os.path.join(out, "luci-updated.png"))


if __name__ == "__main__":
    sys.exit(main())
