'use strict';
'require view';
'require form';
'require fs';
'require ui';
'require uci';

// dyn53's LuCI page (Services -> dyn53): last run status with "Update now", a paste box
// for the block `dyn53-backend host add` prints, the global settings and the records.
// The secret goes to SECRET_FILE (mode 0600) through rpcd's file.write and is never read
// back: the ACL grants write on that one file only.

const SECRET_FILE = '/etc/dyn53.secret';
const STATUS_FILE = '/var/run/dyn53/status.json';
const DYN53 = '/usr/bin/dyn53';
// Options `host add` prints, as src/config.rs reads them (UCI_GLOBAL_KEYS, UCI_RECORD_KEYS).
const GLOBAL_KEYS = ['enabled', 'url', 'secret', 'secret_file', 'ca_file', 'protocol',
	'timeout', 'explicit_ip', 'check_interval'];
const RECORD_KEYS = ['hostname', 'type', 'interface', 'enabled', 'explicit_ip'];

// The words of one UCI line: bare, '...' or "..." (a backslash escapes one character).
function uciWords(line) {
	const words = [];
	let i = 0;
	while (i < line.length) {
		const c = line[i];
		if (c == ' ' || c == '\t') { i++; continue; }
		if (c == '#') break;
		let w = '', quote = null;
		for (; i < line.length; i++) {
			const d = line[i];
			if (quote) {
				if (d == quote) quote = null;
				else if (d == '\\' && quote == '"' && i + 1 < line.length) w += line[++i];
				else w += d;
			}
			else if (d == '\'' || d == '"') quote = d;
			else if (d == '\\' && i + 1 < line.length) w += line[++i];
			else if (d == ' ' || d == '\t' || d == '#') break;
			else w += d;
		}
		if (quote) throw new Error(_('unclosed quote'));
		words.push(w);
	}
	return words;
}

// Parses the pasted block into { global: {key: value}, records: [{name, options}] }, or
// throws an Error naming the line. Nothing is changed until the whole block parses.
function parseBlock(text) {
	const out = { global: null, records: [] };
	let cur = null;
	text.split(/\r?\n/).forEach((line, i) => {
		const at = (msg) => new Error(_('line %d: %s').format(i + 1, msg));
		let w;
		try { w = uciWords(line); } catch (e) { throw at(e.message); }
		if (!w.length || w[0] == 'package') return;
		if (w[0] == 'config') {
			if (w.length < 2 || w.length > 3) throw at(_('expected: config <type> [\'<name>\']'));
			if (w[1] == 'dyn53') {
				if (out.global) throw at(_('a second \'config dyn53\' section'));
				cur = out.global = {};
			}
			else if (w[1] == 'record') {
				if (w[2] != null && !/^[A-Za-z0-9_]+$/.test(w[2]))
					throw at(_('record name \'%s\' may hold only letters, digits and _').format(w[2]));
				cur = { name: w[2], options: {} };
				out.records.push(cur);
			}
			else throw at(_('section type \'%s\' is not dyn53\'s').format(w[1]));
			return;
		}
		if (w[0] != 'option') throw at(_('expected \'config\' or \'option\', found \'%s\'').format(w[0]));
		if (!cur) throw at(_('\'option\' before any \'config\' section'));
		if (w.length != 3) throw at(_('expected: option <name> \'<value>\''));
		const known = (cur === out.global) ? GLOBAL_KEYS : RECORD_KEYS;
		if (known.indexOf(w[1]) < 0) throw at(_('unknown option \'%s\'').format(w[1]));
		(cur === out.global ? cur : cur.options)[w[1]] = w[2];
	});
	if (!out.global || !out.records.length)
		throw new Error(_('expected the block `dyn53-backend host add` prints: a \'config dyn53\' section and at least one \'config record\''));
	if (!/^https?:\/\/\S+$/.test(out.global.url || ''))
		throw new Error(_('the block has no url starting with https://'));
	out.records.forEach((r, n) => {
		if (!r.options.hostname)
			throw new Error(_('record %d has no hostname').format(n + 1));
	});
	return out;
}

function formatTime(t) {
	return t ? new Date(t * 1000).toLocaleString() : '-';
}

// Text for E(): LuCI's dom.append sets a lone string as innerHTML, but makes text nodes of
// an array's strings. Everything read from the status file or dyn53's output goes in so.
function asText(s) {
	return [ (s == null) ? '' : String(s) ];
}

// The LAN records of a status entry: its "lan" field, `name=address` pairs separated by
// spaces, as [name, address] pairs (an address holds no '=').
function lanPairs(lan) {
	return String(lan || '').split(' ').filter((p) => p).map((p) => {
		const i = p.lastIndexOf('=');
		return (i < 0) ? [ p, '-' ] : [ p.slice(0, i), p.slice(i + 1) ];
	});
}

return view.extend({
	load: function() {
		return Promise.all([
			uci.load('dyn53'),
			L.resolveDefault(fs.read(STATUS_FILE), null)
		]);
	},

	// The status table from STATUS_FILE's text (null: no run yet or unreadable).
	renderStatus: function(text) {
		let st = null;
		try { st = text ? JSON.parse(text) : null; } catch (e) { st = 'bad'; }
		if (st == null)
			return E('p', { 'class': 'dyn53-status-none' },
				_('No update has run yet (%s does not exist).').format(STATUS_FILE));
		if (st === 'bad' || !Array.isArray(st.records))
			return E('p', { 'class': 'alert-message warning' },
				_('%s is not dyn53 status JSON.').format(STATUS_FILE));
		const rows = st.records.map((r) => E('tr', { 'class': 'tr dyn53-record-' + String(r.result).replace(/[^a-z]/g, '') }, [
			E('td', { 'class': 'td' }, asText(r.hostname)),
			E('td', { 'class': 'td' }, asText(r.type)),
			E('td', { 'class': 'td' }, asText(r.result)),
			E('td', { 'class': 'td' }, asText(r.address || '-')),
			E('td', { 'class': 'td' }, asText(r.previous || '-')),
			E('td', { 'class': 'td' }, asText(r.message)),
			E('td', { 'class': 'td' }, asText(formatTime(r.time)))
		]));
		return E('div', {}, [
			E('p', { 'class': 'dyn53-status-run' },
				asText(_('Last run: %s, exit code %d (%s)').format(formatTime(st.time), st.exit,
					st.exit == 0 ? _('ok') : _('failed')))),
			E('table', { 'class': 'table' }, [
				E('tr', { 'class': 'tr table-titles' }, [
					_('Hostname'), _('Type'), _('Result'), _('Address'), _('Previous'),
					_('Message'), _('Time')
				].map((t) => E('th', { 'class': 'th' }, t)))
			].concat(rows))
		].concat(st.records.filter((r) => r.lan_prefix).map((r) => this.renderLan(r))));
	},

	// The LAN records the backend moved into the prefix sent with record r's update (the
	// backend keeps them: dyn53-backend host lan add), name -> address.
	renderLan: function(r) {
		const pairs = lanPairs(r.lan);
		return E('div', { 'class': 'dyn53-lan' }, [
			E('h4', {}, asText(_('LAN records in %s (sent with %s %s)').format(r.lan_prefix, r.hostname, r.type))),
			pairs.length ? E('table', { 'class': 'table' }, [
				E('tr', { 'class': 'tr table-titles' }, [
					E('th', { 'class': 'th' }, _('LAN hostname')),
					E('th', { 'class': 'th' }, _('Address (AAAA)'))
				])
			].concat(pairs.map((p) => E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td' }, asText(p[0])),
				E('td', { 'class': 'td' }, asText(p[1]))
			])))) : E('p', {}, _('The backend did not list the LAN records (an older dyn53-backend).'))
		]);
	},

	// Runs `dyn53 CMD` (update or check: what the ACL allows), shows its output, then
	// reads the status file again.
	run: function(cmd) {
		const box = document.getElementById('dyn53-status');
		return fs.exec(DYN53, [cmd]).then((res) => {
			const out = ((res.stdout || '') + (res.stderr || '')).trim();
			ui.addNotification(null, E('pre', {}, asText(out || _('dyn53 %s exited %d').format(cmd, res.code))),
				res.code == 0 ? 'info' : 'warning');
		}).catch((e) => {
			ui.addNotification(null, E('p', {}, asText(_('Could not run dyn53 %s: %s').format(cmd, e.message))), 'danger');
		}).then(() => L.resolveDefault(fs.read(STATUS_FILE), null)).then((text) => {
			box.replaceChildren(this.renderStatus(text));
		});
	},

	handleUpdate: function(ev) { return this.run('update'); },

	handleCheck: function(ev) { return this.run('check'); },

	// Fills the form from the pasted block: the global section's options, the records
	// (replacing the ones there: one router, one secret), and the secret field. Nothing is
	// saved until the user presses Save & Apply.
	handlePaste: function(ev) {
		const area = document.getElementById('dyn53-paste');
		let block;
		try {
			block = parseBlock(area.value);
		}
		catch (e) {
			ui.addNotification(null, E('p', {}, asText(_('Not pasted: %s').format(e.message))), 'danger');
			return Promise.resolve();
		}
		const g = uci.sections('dyn53', 'dyn53')[0];
		const gsid = g ? g['.name'] : uci.add('dyn53', 'dyn53', 'global');
		const secret = block.global.secret;
		Object.keys(block.global).forEach((k) => {
			if (k != 'secret' && k != 'secret_file') uci.set('dyn53', gsid, k, block.global[k]);
		});
		const pasted = {};
		block.records.forEach((r) => { if (r.name) pasted[r.name] = r; });
		// A pasted record whose name exists updates that section; the others go.
		uci.sections('dyn53', 'record').forEach((s) => {
			const r = pasted[s['.name']];
			if (!r) return uci.remove('dyn53', s['.name']);
			RECORD_KEYS.forEach((k) => (r.options[k] != null)
				? uci.set('dyn53', s['.name'], k, r.options[k]) : uci.unset('dyn53', s['.name'], k));
			r.done = true;
		});
		block.records.forEach((r) => {
			if (r.done) return;
			const sid = uci.add('dyn53', 'record', r.name);
			RECORD_KEYS.forEach((k) => { if (r.options[k] != null) uci.set('dyn53', sid, k, r.options[k]); });
		});
		// Map.reset() only re-renders the values the last load() cached: load the changes first.
		return this.map.load().then(() => this.map.reset()).then(() => {
			if (secret) this.secretOption.getUIElement(gsid).setValue(secret);
			area.value = '';
			ui.addNotification(null, E('p', {},
				_('Filled in %d record(s) from the block. Check them, then press Save & Apply.').format(block.records.length)), 'info');
		});
	},

	// Writes a newly entered secret to SECRET_FILE, created with mode 0600 (rpcd's file.write
	// applies the mode when it creates the file).
	writeSecret: function() {
		const v = this.pendingSecret;
		this.pendingSecret = null;
		return v ? fs.write(SECRET_FILE, v + '\n', 0o600) : null;
	},

	render: function(data) {
		let m, s, o;
		m = new form.Map('dyn53', _('dyn53'),
			_('Keeps Route 53 names pointing at this router\'s public address through the dyn53 backend.'));
		this.map = m;

		s = m.section(form.TypedSection, 'dyn53', _('Settings'));
		s.anonymous = true;

		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.rmempty = false;

		o = s.option(form.Value, 'url', _('Backend URL'), _('The function URL from `dyn53-backend host add`.'));
		o.placeholder = 'https://xxxx.lambda-url.eu-west-1.on.aws/';
		o.validate = (sid, v) => (v == '' || /^https?:\/\/\S+$/.test(v)) ? true : _('Expecting a URL starting with https://');

		o = s.option(form.Value, 'secret', _('Secret'),
			_('Saved to %s (mode 0600) and never shown again. Leave empty to keep the stored one.').format(SECRET_FILE));
		o.password = true;
		o.placeholder = _('(unchanged)');
		// Never show what is stored: not the file (unreadable here), not an inline option.
		o.cfgvalue = () => '';
		o.remove = () => {};
		// Held until the whole form is valid (writeSecret runs after parse, before UCI save).
		o.write = (sid, v) => {
			this.pendingSecret = v.trim();
			uci.set('dyn53', sid, 'secret_file', SECRET_FILE);
			uci.unset('dyn53', sid, 'secret');
		};
		o.validate = (sid, v) => /^\S*$/.test(v.trim()) ? true : _('The secret has no spaces');
		this.secretOption = o;

		o = s.option(form.ListValue, 'protocol', _('Protocol'),
			_('2 with a dyn53 backend; 1 or 1-query only to talk to a reference-design backend.'));
		o.value('2', _('2: dyn53 (HMAC, server nonce)'));
		o.value('1', _('1: reference design, JSON (2023 function URL)'));
		o.value('1-query', _('1-query: reference design, GET ?mode= (2015/2016 API Gateway)'));
		o.default = '2';

		o = s.option(form.Value, 'timeout', _('Timeout (s)'));
		o.datatype = 'range(1,600)';
		o.placeholder = '60';

		o = s.option(form.Value, 'check_interval', _('Re-check every (s)'),
			_('A safety net for missed interface events.'));
		o.datatype = 'range(60,86400)';
		o.placeholder = '600';

		// Read by the hotplug script (uci), not by dyn53: see docs/ROUTERS.md, LAN hosts.
		o = s.option(form.Value, 'lan_prefix', _('Send LAN prefix of'),
			_('For LAN hosts (dyn53-backend host lan add): 1 sends the IPv6 prefix of interface lan, ' +
			  'or name another interface; empty or 0: off.'));
		o.optional = true;
		o.placeholder = '0';
		o.datatype = 'uciname';

		o = s.option(form.Value, 'ca_file', _('CA file'), _('Optional: a PEM file of extra trusted CAs.'));
		o.optional = true;

		// Records edit in place in the grid (editable), one row per hostname and type.
		s = m.section(form.GridSection, 'record', _('Records'));
		s.anonymous = true;
		s.addremove = true;

		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.rmempty = false;
		o.default = '1';
		o.editable = true;

		o = s.option(form.Value, 'hostname', _('Hostname'));
		o.datatype = 'hostname';
		o.rmempty = false;
		o.editable = true;

		o = s.option(form.ListValue, 'type', _('Type'));
		o.value('A');
		o.value('AAAA');
		o.default = 'A';
		o.editable = true;

		o = s.option(form.Value, 'interface', _('Interface'), _('Logical interfaces, space separated (e.g. wan, or wan6 wan_6).'));
		o.placeholder = 'wan';
		o.editable = true;
		o.validate = (sid, v) => /^[A-Za-z0-9_.-]*( [A-Za-z0-9_.-]+)*$/.test(v) ? true : _('Interface names separated by spaces');

		const status = E('div', { 'class': 'cbi-section' }, [
			E('h3', {}, _('Status')),
			E('div', { 'id': 'dyn53-status' }, this.renderStatus(data[1])),
			E('button', {
				'class': 'cbi-button cbi-button-action',
				'id': 'dyn53-update',
				'click': ui.createHandlerFn(this, 'handleUpdate')
			}, _('Update now')),
			' ',
			E('button', {
				'class': 'cbi-button cbi-button-neutral',
				'id': 'dyn53-check',
				'click': ui.createHandlerFn(this, 'handleCheck')
			}, _('Check DNS'))
		]);
		const paste = E('div', { 'class': 'cbi-section' }, [
			E('h3', {}, _('Paste from dyn53-backend host add')),
			E('p', {}, _('Paste the OpenWrt block that `dyn53-backend host add` printed: it fills in the settings, the secret and the records (replacing the records listed below).')),
			E('textarea', { 'id': 'dyn53-paste', 'rows': 8, 'style': 'width:100%', 'spellcheck': 'false' }),
			E('button', {
				'class': 'cbi-button cbi-button-apply',
				'id': 'dyn53-fill',
				'click': ui.createHandlerFn(this, 'handlePaste')
			}, _('Fill in'))
		]);
		// Map.save(cb) runs cb after every option parsed and validated, before UCI is saved.
		const save = m.save;
		m.save = (cb, silent) => {
			this.pendingSecret = null;
			return save.call(m, () => Promise.resolve(cb ? cb() : null)
				.then(() => this.writeSecret()), silent);
		};
		return m.render().then((node) => E('div', {}, [status, paste, node]));
	}
});
