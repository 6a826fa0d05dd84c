<!DOCTYPE html>
<!-- dyn53's addon page for Asuswrt-Merlin (mounted as /www/user/userN.asp by
     services-start). Saves through /start_apply.htm (amng_custom + start_dyn53, handled by
     the service-event hook); shows the status file linked at /ext/dyn53/status.htm.
     The stored secret is never sent to this page: only whether one is stored. -->
<html>
<head>
<meta http-equiv="X-UA-Compatible" content="IE=Edge">
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>dyn53 - Route 53 dynamic DNS</title>
<link rel="stylesheet" type="text/css" href="index_style.css">
<link rel="stylesheet" type="text/css" href="form_style.css">
<script src="/state.js"></script>
<script src="/general.js"></script>
<script src="/popup.js"></script>
<script src="/help.js"></script>
<style>
#dyn53 { font-family: Arial, sans-serif; font-size: 13px; max-width: 760px; }
#dyn53 th { text-align: left; width: 30%; padding: 4px; }
#dyn53 td { padding: 4px; }
#dyn53 input[type=text], #dyn53 input[type=password], #dyn53 textarea { width: 95%; }
#dyn53 .changed { color: #2a7; } #dyn53 .unchanged { color: #777; } #dyn53 .error { color: #c33; }
#dyn53 .note { color: #666; font-size: 12px; }
#dyn53 .lan { margin-top: 6px; } #dyn53 table.lan_records td { padding: 1px 12px 1px 0; font-family: monospace; }
</style>
<script>
var custom_settings = <% get_custom_settings(); %>;

function setting(key, fallback) {
	var v = custom_settings[key];
	return (v === undefined || v === null) ? fallback : String(v);
}

function initial() {
	if (typeof show_menu === "function") show_menu();
	var f = document.form;
	f.dyn53_url.value = setting("dyn53_url", "");
	f.dyn53_records.value = setting("dyn53_records", "");
	f.dyn53_protocol.value = setting("dyn53_protocol", "2");
	f.dyn53_explicit_ip.checked = setting("dyn53_explicit_ip", "0") === "1";
	f.dyn53_lan_prefix.checked = setting("dyn53_lan_prefix", "0") === "1";
	document.getElementById("secret_note").textContent =
		setting("dyn53_secret_stored", "0") === "1" ? "A secret is stored (leave empty to keep it)." : "No secret stored yet.";
	var result = setting("dyn53_result", "");
	document.getElementById("save_result").textContent = result ? "Last save: " + result : "";
	load_status();
}

// Reads the block `dyn53-backend host add` printed (Merlin key=value or OpenWrt UCI lines,
// or the whole output) into the form.
function paste_block() {
	var f = document.form, list = "", hosts = [], type = "";
	var lines = document.getElementById("paste").value.split(/\r?\n/);
	for (var i = 0; i < lines.length; i++) {
		var m = lines[i].match(/^\s*(?:option\s+)?([a-z_]+)(?:=|\s+)'?([^']*?)'?\s*$/);
		if (!m) continue;
		var k = m[1], v = m[2];
		if (k === "url") f.dyn53_url.value = v;
		else if (k === "secret") f.dyn53_secret.value = v;
		else if (k === "protocol") f.dyn53_protocol.value = (v === "1" || v === "1-query") ? v : "2";
		else if (k === "explicit_ip") f.dyn53_explicit_ip.checked = v === "1";
		else if (k === "lan_prefix") f.dyn53_lan_prefix.checked = v === "1";
		else if (k === "records") list = v.split(/[\s,]+/).filter(Boolean).join(" ");
		else if (k === "hostname" && hosts.indexOf(v) < 0) hosts.push(v);
		else if (k === "record_type" || k === "type") type = v;
	}
	if (!list && hosts.length === 1 && type && type !== "A") list = hosts[0] + ":" + type;
	if (list || hosts.length) f.dyn53_records.value = list || hosts.join(" ");
	document.getElementById("paste").value = "";
}

function save() {
	var f = document.form;
	var url = f.dyn53_url.value.trim(), records = f.dyn53_records.value.trim();
	if (!/^https?:\/\/[^\s"'\\`$]+$/.test(url)) { alert("The URL must start with https:// and contain no quotes or spaces."); return; }
	if (!/^[A-Za-z0-9.:\- ,]+$/.test(records)) { alert("Give at least one hostname (name or name:AAAA, separated by spaces)."); return; }
	var s = {
		dyn53_url: url,
		dyn53_records: records,
		dyn53_protocol: f.dyn53_protocol.value,
		dyn53_explicit_ip: f.dyn53_explicit_ip.checked ? "1" : "0",
		dyn53_lan_prefix: f.dyn53_lan_prefix.checked ? "1" : "0"
	};
	var secret = f.dyn53_secret.value.trim();
	if (secret) s.dyn53_secret = secret;
	f.amng_custom.value = JSON.stringify(s);
	f.dyn53_secret.value = "";
	if (typeof showLoading === "function") showLoading();
	f.submit();
	setTimeout(function () { location.reload(); }, 5000);
}

function when(t) { return new Date(t * 1000).toLocaleString(); }

// An element holding TEXT as text (status file contents are never markup).
function el(tag, cls, text) {
	var e = document.createElement(tag);
	if (cls) e.className = cls;
	if (text !== undefined) e.textContent = text;
	return e;
}

// The LAN records of the entry whose update sent the LAN prefix: its "lan" field,
// "name=address" pairs separated by spaces (an address holds no "="), as a table.
function lan_records(r) {
	var box = el("div", "lan");
	box.appendChild(el("div", "", "LAN records in " + r.lan_prefix + " (sent with " + r.hostname + " " + r.type + "):"));
	var pairs = String(r.lan || "").split(" ").filter(Boolean);
	if (!pairs.length) { box.appendChild(el("div", "note", "The backend did not list them (an older dyn53-backend).")); return box; }
	var t = el("table", "lan_records");
	pairs.forEach(function (p) {
		var i = p.lastIndexOf("="), tr = el("tr");
		tr.appendChild(el("td", "", i < 0 ? p : p.slice(0, i)));
		tr.appendChild(el("td", "", i < 0 ? "-" : p.slice(i + 1)));
		t.appendChild(tr);
	});
	box.appendChild(t);
	return box;
}

function load_status() {
	var out = document.getElementById("status");
	var x = new XMLHttpRequest();
	x.open("GET", "/ext/dyn53/status.htm?" + Date.now());
	x.onload = function () {
		var st;
		try { st = JSON.parse(x.responseText); } catch (e) { st = null; }
		if (x.status !== 200 || !st) { out.textContent = "No status yet: dyn53 has not run since the router started."; return; }
		out.textContent = "";
		var head = document.createElement("div");
		head.textContent = "Last run " + when(st.time) + ": " + (st.exit === 0 ? "ok" : "failed (exit " + st.exit + ")");
		out.appendChild(head);
		(st.records || []).forEach(function (r) {
			out.appendChild(el("div", "record " + String(r.result).replace(/[^a-z]/g, ""),
				r.hostname + " " + r.type + ": " + r.message + " (" + when(r.time) + ")"));
		});
		(st.records || []).forEach(function (r) { if (r.lan_prefix) out.appendChild(lan_records(r)); });
	};
	x.onerror = function () { out.textContent = "No status yet."; };
	x.send();
}
</script>
</head>
<body onload="initial();">
<div id="TopBanner"></div>
<div id="Loading" class="popup_bg"></div>
<iframe name="hidden_frame" id="hidden_frame" src="about:blank" width="0" height="0" frameborder="0"></iframe>
<form method="post" name="form" action="start_apply.htm" target="hidden_frame">
<input type="hidden" name="current_page" value="">
<input type="hidden" name="next_page" value="">
<input type="hidden" name="group_id" value="">
<input type="hidden" name="modified" value="0">
<input type="hidden" name="action_mode" value="apply">
<input type="hidden" name="action_wait" value="5">
<input type="hidden" name="first_time" value="">
<input type="hidden" name="action_script" value="start_dyn53">
<input type="hidden" name="preferred_lang" id="preferred_lang" value="<% nvram_get("preferred_lang"); %>">
<input type="hidden" name="firmver" value="<% nvram_get("firmver"); %>">
<input type="hidden" name="amng_custom" id="amng_custom" value="">
<table class="content" align="center" cellpadding="0" cellspacing="0"><tr>
<td width="17">&nbsp;</td>
<td valign="top" width="202"><div id="mainMenu"></div><div id="subMenu"></div></td>
<td valign="top"><div id="tabMenu" class="submenuBlock"></div>
<div id="dyn53">
<div class="formfonttitle">WAN - dyn53 (Route 53 dynamic DNS)</div>
<p class="note">Paste the block <code>dyn53-backend host add</code> printed, press Fill in, then Apply.
Set WAN &gt; DDNS to Server: Custom so the router also updates on every new WAN address.</p>
<table class="FormTable" width="100%">
<tr><th>Paste from host add</th><td><textarea id="paste" rows="6" placeholder="url=https://...&#10;secret=...&#10;hostname=home.example.com"></textarea><br>
<input type="button" class="button_gen" id="fill" value="Fill in" onclick="paste_block();"></td></tr>
<tr><th>Backend URL</th><td><input type="text" name="dyn53_url" maxlength="512" autocomplete="off"></td></tr>
<tr><th>Records</th><td><input type="text" name="dyn53_records" maxlength="1024" placeholder="home.example.com home.example.com:AAAA"></td></tr>
<tr><th>Secret</th><td><input type="password" name="dyn53_secret" maxlength="1024" autocomplete="new-password"><div class="note" id="secret_note"></div></td></tr>
<tr><th>Protocol</th><td><select name="dyn53_protocol"><option value="2">2 (HMAC with server nonce)</option><option value="1">1 (reference design, JSON)</option><option value="1-query">1-query (reference design, GET ?mode=)</option></select></td></tr>
<tr><th>Explicit IP</th><td><input type="checkbox" name="dyn53_explicit_ip"> publish the WAN address the router has (only if the backend allows it)</td></tr>
<tr><th>LAN prefix</th><td><input type="checkbox" name="dyn53_lan_prefix"> send the IPv6 LAN prefix (nvram ipv6_prefix) with each update, for LAN hosts (<code>dyn53-backend host lan add</code>); the status below lists their addresses</td></tr>
</table>
<div class="apply_gen"><input type="button" class="button_gen" id="apply" value="Apply" onclick="save();"> <span id="save_result" class="note"></span></div>
<div class="formfonttitle">Status</div>
<div id="status">Loading...</div>
</div>
</td></tr></table>
</form>
</body>
</html>
