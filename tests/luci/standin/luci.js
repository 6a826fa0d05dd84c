'use strict';
// A minimal stand-in for the parts of LuCI's browser runtime that the dyn53 view
// (openwrt/luci-app-dyn53/.../view/dyn53/config.js) uses, so that the real view file runs in
// a real browser here. Stood in, and why: LuCI's own luci.js, form.js, uci.js, fs.js, rpc.js
// and ui.js are not installable on this machine (no OpenWrt image; public source only, and
// fetched code may not be committed or downloaded at test time). What is stood in keeps
// LuCI's public API and wire format, and nothing more:
//   L.resolveDefault, E(), _(), String.prototype.format    (luci.js)
//   fs.read / fs.write / fs.exec -> ubus file read/write/exec   (fs.js over rpc.js)
//   uci.load/get/set/unset/add/remove/sections/save -> ubus uci get/add/set/delete (uci.js)
//   form.Map/TypedSection/GridSection/Value/Flag/ListValue: render, parse, save, reset
//   ui.addNotification, ui.createHandlerFn, widgets with getValue/setValue
//   view.extend with load/render and Save & Apply (ubus uci apply)
// Left out: rollback/confirm, the modal editor of GridSection rows (rows edit inline here),
// most datatypes (hostname and range only), translations.
(function() {
	const SID = '00000000000000000000000000000000';
	let rpcId = 0;

	String.prototype.format = function() {
		const args = arguments;
		let i = 0;
		return this.replace(/%([sd%])/g, (m, c) => c == '%' ? '%' : String(c == 'd' ? parseInt(args[i++]) : args[i++]));
	};
	window._ = (s) => s;

	// E(tag, attrs, children): a DOM element; attributes that are functions become listeners.
	// As in LuCI's dom.append: the strings of an array become text nodes, but a lone string
	// is assigned to innerHTML (markup), so a view that passes file contents so is open to
	// HTML injection here as it is on a router.
	window.E = function(tag, attrs, children) {
		if (Array.isArray(tag)) { children = tag; tag = 'div'; attrs = {}; }
		if (Array.isArray(attrs) || typeof attrs == 'string' || attrs instanceof Node) { children = attrs; attrs = {}; }
		const el = document.createElement(tag);
		Object.entries(attrs || {}).forEach(([k, v]) => {
			if (typeof v == 'function') el.addEventListener(k, v);
			else if (v != null) el.setAttribute(k, v);
		});
		const add = (c) => {
			if (c == null) return;
			if (Array.isArray(c)) c.forEach(add);
			else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
		};
		if (children != null && !Array.isArray(children) && !(children instanceof Node))
			el.innerHTML = String(children);
		else
			add(children);
		return el;
	};

	// One ubus call over LuCI's JSON-RPC endpoint; rejects on a non-zero ubus status.
	function ubus(object, method, params) {
		const body = { jsonrpc: '2.0', id: ++rpcId, method: 'call', params: [SID, object, method, params || {}] };
		return fetch('/ubus', { method: 'POST', body: JSON.stringify(body) })
			.then((r) => r.json())
			.then((j) => {
				if (j.error) throw new Error(j.error.message);
				if (j.result[0] != 0) throw new Error('ubus %s.%s: status %d'.format(object, method, j.result[0]));
				return j.result[1];
			});
	}

	window.L = {
		resolveDefault: (p, def) => Promise.resolve(p).catch(() => def),
		bind: (fn, self) => fn.bind(self)
	};

	const fs = {
		read: (path) => ubus('file', 'read', { path: path }).then((r) => r.data),
		write: (path, data, mode) => ubus('file', 'write', { path: path, data: data, mode: mode != null ? mode : 420 }),
		exec: (command, params) => ubus('file', 'exec', { command: command, params: params || [] })
	};

	// uci: the loaded values plus local changes, sent by save() as LuCI's uci.js sends them.
	const uci = {
		values: {}, created: {}, changed: {}, unsets: {}, deleted: {}, n: 0,
		load: function(conf) {
			if (this.values[conf]) return Promise.resolve();
			return ubus('uci', 'get', { config: conf }).then((r) => { this.values[conf] = r.values; });
		},
		section: function(conf, sid) {
			return (this.created[conf] || {})[sid] || (this.values[conf] || {})[sid];
		},
		sections: function(conf, type) {
			const all = Object.values(this.values[conf] || {}).concat(Object.values(this.created[conf] || {}));
			return all.filter((s) => (!type || s['.type'] == type) && !(this.deleted[conf] || {})[s['.name']])
				.map((s) => Object.assign({}, s, (this.changed[conf] || {})[s['.name']]));
		},
		get: function(conf, sid, opt) {
			const s = this.section(conf, sid);
			if (!s || (this.deleted[conf] || {})[sid]) return null;
			const c = (this.changed[conf] || {})[sid] || {};
			if (opt in c) return c[opt];
			if (((this.unsets[conf] || {})[sid] || {})[opt]) return null;
			return s[opt];
		},
		set: function(conf, sid, opt, val) {
			if (val == null) return this.unset(conf, sid, opt);
			const s = (this.created[conf] || {})[sid];
			if (s) { s[opt] = String(val); return; }
			((this.changed[conf] = this.changed[conf] || {})[sid] = this.changed[conf][sid] || {})[opt] = String(val);
			delete ((this.unsets[conf] || {})[sid] || {})[opt];
		},
		unset: function(conf, sid, opt) {
			const s = (this.created[conf] || {})[sid];
			if (s) { delete s[opt]; return; }
			delete ((this.changed[conf] || {})[sid] || {})[opt];
			if (((this.values[conf] || {})[sid] || {})[opt] != null)
				((this.unsets[conf] = this.unsets[conf] || {})[sid] = this.unsets[conf][sid] || {})[opt] = true;
		},
		add: function(conf, type, name) {
			const sid = name || 'new%d'.format(++this.n);
			(this.created[conf] = this.created[conf] || {})[sid] = { '.type': type, '.name': sid, '.anonymous': !name, '.create': name };
			return sid;
		},
		remove: function(conf, sid) {
			if ((this.created[conf] || {})[sid]) delete this.created[conf][sid];
			else (this.deleted[conf] = this.deleted[conf] || {})[sid] = true;
		},
		// As uci.js sends them: deletes (sections, options), then adds, then sets; then reload.
		save: function() {
			const calls = [];
			const opts = (s) => Object.fromEntries(Object.entries(s).filter(([k]) => k[0] != '.'));
			Object.entries(this.deleted).forEach(([conf, secs]) => Object.keys(secs).forEach((sid) => {
				calls.push(() => ubus('uci', 'delete', { config: conf, section: sid, options: null }));
			}));
			Object.entries(this.unsets).forEach(([conf, secs]) => Object.entries(secs).forEach(([sid, o]) => {
				if (Object.keys(o).length && !(this.deleted[conf] || {})[sid])
					calls.push(() => ubus('uci', 'delete', { config: conf, section: sid, options: Object.keys(o) }));
			}));
			Object.entries(this.created).forEach(([conf, secs]) => Object.values(secs).forEach((s) => {
				const p = { config: conf, type: s['.type'], values: opts(s) };
				if (s['.create']) p.name = s['.create'];
				calls.push(() => ubus('uci', 'add', p));
			}));
			Object.entries(this.changed).forEach(([conf, secs]) => Object.entries(secs).forEach(([sid, v]) => {
				if (Object.keys(v).length && !(this.deleted[conf] || {})[sid])
					calls.push(() => ubus('uci', 'set', { config: conf, section: sid, values: v }));
			}));
			const confs = Object.keys(this.values);
			return calls.reduce((p, c) => p.then(c), Promise.resolve()).then(() => {
				this.values = {}; this.created = {}; this.changed = {}; this.unsets = {}; this.deleted = {};
				return Promise.all(confs.map((c) => this.load(c)));
			});
		},
		apply: () => ubus('uci', 'apply', { rollback: false })
	};

	// Widgets (ui.Textfield, ui.Checkbox, ui.Select): a node with getValue/setValue.
	function widget(opt, value) {
		let node;
		if (opt instanceof Flag) {
			node = E('input', { type: 'checkbox' });
			node.checked = value == opt.enabled;
			return { node: node, getValue: () => node.checked ? opt.enabled : opt.disabled, setValue: (v) => { node.checked = v == opt.enabled; } };
		}
		if (opt instanceof ListValue) {
			node = E('select', {}, opt.keylist.map((k) => E('option', { value: k }, k)));
			node.value = value != null ? value : opt.keylist[0];
		}
		else {
			node = E('input', { type: opt.password ? 'password' : 'text', placeholder: opt.placeholder || '' });
			node.value = value != null ? value : '';
		}
		return { node: node, getValue: () => node.value, setValue: (v) => { node.value = v; } };
	}

	const ui = {
		addNotification: function(title, children, cls) {
			const n = E('div', { 'class': 'alert-message ' + (cls || '') }, [title ? E('h4', {}, title) : null, children]);
			document.getElementById('notifications').appendChild(n);
			return n;
		},
		createHandlerFn: (ctx, fn) => (ev) => (typeof fn == 'string' ? ctx[fn] : fn).call(ctx, ev)
	};

	function datatypeOk(dt, v) {
		if (dt == 'hostname') return /^[A-Za-z0-9]([A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63}\.?$/.test(v);
		const m = /^range\((\d+),(\d+)\)$/.exec(dt || '');
		if (m) return /^\d+$/.test(v) && +v >= +m[1] && +v <= +m[2];
		return true;
	}

	class AbstractValue {
		constructor(section, option, title, description) {
			Object.assign(this, { section: section, option: option, title: title, description: description, rmempty: true, widgets: {} });
		}
		get config() { return this.section.map.config; }
		// As form.js: the value cached by the last Map.load(); cfgvalue(sid, v) sets it.
		cfgvalue(sid, v) {
			this.data = this.data || {};
			if (arguments.length == 2) this.data[sid] = v;
			return this.data[sid];
		}
		load(sid) { return uci.get(this.config, sid, this.option); }
		formvalue(sid) { return this.widgets[sid] ? this.widgets[sid].getValue() : null; }
		getUIElement(sid) { return this.widgets[sid]; }
		write(sid, v) { return uci.set(this.config, sid, this.option, v); }
		remove(sid) { return uci.unset(this.config, sid, this.option); }
		render(sid) {
			const v = this.cfgvalue(sid);
			const w = this.widgets[sid] = widget(this, v != null ? v : this.default);
			w.node.setAttribute('data-option', this.option);
			w.node.setAttribute('data-section', sid);
			return w.node;
		}
		// As form.js: validate, then write a changed non-empty value or remove an empty one.
		parse(sid) {
			const fval = this.formvalue(sid);
			if (fval == null) return Promise.resolve();
			if (fval != '') {
				const msg = this.validate ? this.validate(sid, fval) : true;
				if (msg !== true) return Promise.reject(new Error('%s: %s'.format(this.title, msg)));
				if (!datatypeOk(this.datatype, fval))
					return Promise.reject(new Error('%s: expecting %s'.format(this.title, this.datatype)));
			}
			if (fval == '') {
				if (this.rmempty || this.optional) return Promise.resolve(this.remove(sid));
				return Promise.reject(new Error('%s: a value is required'.format(this.title)));
			}
			if (String(this.cfgvalue(sid)) !== fval) return Promise.resolve(this.write(sid, fval));
			return Promise.resolve();
		}
	}
	class Value extends AbstractValue {}
	class Flag extends AbstractValue {
		constructor(...a) { super(...a); this.enabled = '1'; this.disabled = '0'; }
	}
	class ListValue extends AbstractValue {
		constructor(...a) { super(...a); this.keylist = []; }
		value(k) { this.keylist.push(k); }
	}

	class TypedSection {
		constructor(map, type, title) {
			Object.assign(this, { map: map, sectiontype: type, title: title, children: [] });
		}
		option(cls, ...args) { const o = new cls(this, ...args); this.children.push(o); return o; }
		cfgsections() { return uci.sections(this.map.config, this.sectiontype).map((s) => s['.name']); }
		load() { this.cfgsections().forEach((sid) => this.children.forEach((o) => o.cfgvalue(sid, o.load(sid)))); }
		parse() { return Promise.all(this.cfgsections().flatMap((sid) => this.children.map((o) => o.parse(sid)))); }
		render() {
			return E('div', { 'class': 'cbi-section', 'data-section-type': this.sectiontype }, [
				E('h3', {}, this.title),
				this.cfgsections().map((sid) => E('div', { 'class': 'cbi-section-node' }, this.children.map((o) =>
					E('div', { 'class': 'cbi-value' }, [
						E('label', { 'class': 'cbi-value-title' }, o.title),
						E('div', { 'class': 'cbi-value-field' }, [o.render(sid),
							o.description ? E('div', { 'class': 'cbi-value-description' }, o.description) : null])
					]))))
			]);
		}
	}
	class GridSection extends TypedSection {
		render() {
			const rows = this.cfgsections().map((sid) => E('tr', { 'class': 'tr cbi-section-table-row', 'data-sid': sid },
				this.children.map((o) => E('td', { 'class': 'td' }, o.render(sid))).concat(this.addremove ? [
					E('td', { 'class': 'td' }, E('button', { 'class': 'cbi-button cbi-button-remove', click: () => {
						uci.remove(this.map.config, sid); return this.map.load().then(() => this.map.reset()); } }, 'Delete'))] : [])));
			return E('div', { 'class': 'cbi-section', 'data-section-type': this.sectiontype }, [
				E('h3', {}, this.title),
				E('table', { 'class': 'table cbi-section-table' }, [
					E('tr', { 'class': 'tr table-titles' }, this.children.map((o) => E('th', { 'class': 'th' }, o.title)))
				].concat(rows)),
				this.addremove ? E('button', { 'class': 'cbi-button cbi-button-add', click: () => {
					uci.add(this.map.config, this.sectiontype); return this.map.load().then(() => this.map.reset()); } }, 'Add') : null
			]);
		}
	}

	class Map {
		constructor(config, title, description) {
			Object.assign(this, { config: config, title: title, description: description, children: [] });
		}
		section(cls, ...args) { const s = new cls(this, ...args); this.children.push(s); return s; }
		// Loads the config, then caches every option's value (form.js: loadChildren).
		load() { return uci.load(this.config).then(() => this.children.forEach((s) => s.load())); }
		renderContents() {
			return E('div', { 'class': 'cbi-map', id: 'cbi-' + this.config }, [
				E('h2', {}, this.title), E('div', { 'class': 'cbi-map-descr' }, this.description),
				this.children.map((s) => s.render())
			]);
		}
		render() { return this.load().then(() => { this.root = this.renderContents(); this.root.__map = this; return this.root; }); }
		// As form.js: re-renders in place from the values the last load() cached (so changes
		// made through uci since then show only after load()); unsaved inputs are dropped.
		reset() {
			const old = this.root;
			this.root = this.renderContents();
			this.root.__map = this;
			old.replaceWith(this.root);
			return Promise.resolve(this.root);
		}
		// As form.js: parse (validate and write) every option, then cb, uci save, load, render.
		save(cb) {
			return Promise.all(this.children.map((s) => s.parse())).then(cb).then(() => uci.save())
				.then(() => this.load()).then(() => this.reset());
		}
	}

	const form = { Map: Map, TypedSection: TypedSection, GridSection: GridSection, Value: Value, Flag: Flag, ListValue: ListValue };

	const view = {
		extend: (proto) => proto
	};
	// The page footer's Save & Apply: every map on the page saved, then uci apply.
	function saveApply() {
		const maps = Array.from(document.querySelectorAll('.cbi-map')).map((n) => n.__map);
		return Promise.all(maps.map((m) => m.save())).then(() => uci.apply()).then(() => {
			window.__saved = (window.__saved || 0) + 1;
		}).catch((e) => {
			window.__saveError = e.message;
			ui.addNotification(null, E('p', {}, 'Save failed: ' + e.message), 'danger');
		});
	}

	// LuCI's loader: fetch the view, give it the modules its 'require' lines name, run it.
	const modules = { view: view, form: form, fs: fs, ui: ui, uci: uci };
	window.loadView = function(path) {
		return fetch('/luci-static/resources/view/' + path + '.js').then((r) => r.text()).then((src) => {
			const names = Array.from(src.matchAll(/^'require ([a-z]+)';$/mg)).map((m) => m[1]);
			const missing = names.filter((n) => !modules[n]);
			if (missing.length) throw new Error('not stood in: ' + missing.join(', '));
			const proto = new Function(...names, src)(...names.map((n) => modules[n]));
			const v = Object.create(proto);
			return Promise.resolve(v.load()).then((data) => v.render(data)).then((node) => {
				document.getElementById('view').appendChild(node);
				document.getElementById('save-apply').addEventListener('click', saveApply);
				window.__ready = true;
			});
		}).catch((e) => { window.__loadError = String(e && e.stack || e); });
	};
})();
