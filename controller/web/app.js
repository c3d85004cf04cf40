/*
 * app.js - ebb's fleet page, served by ebb-controller (controller/ctl_web.c).
 *
 * It reads the JSON API (/api/hosts, /api/vms, /api/decisions, /api/policy,
 * /api/series) and listens on /api/events, where the controller announces
 * every control round with its new sample: the chart grows from the event
 * itself, the rest is fetched again.  Without the event stream (an old
 * proxy, too many pages open) it polls every 5 s.
 *
 * Every text that comes from the controller goes into the page as text
 * (textContent, setAttribute), never as markup.  The API token, when the
 * operator gives one, lives in this tab's sessionStorage only and is sent
 * as a bearer header with changes; the controller checks it each time.
 */
'use strict';

(function () {
	const POLL_MS = 5000;
	const REFRESH_GAP_MS = 1000;	/* at most one refresh a second */
	const SERIES_MAX = 2880;	/* as CTL_SERIES_MAX */
	const DECISIONS_SHOWN = 100;
	const TOKEN_KEY = 'ebb.token';

	const state = {
		hosts: [],
		vms: [],
		series: { t: [], hosts: [], watts: [], base: [] },
		today: null,
		interval: null,
		live: 'connecting',
		reachable: true,
		token: '',
		polling: null,
		decisions: new Map(),	/* id -> <li> */
		cards: new Map(),	/* host name -> card parts */
	};

	/* ---- small helpers ------------------------------------------------ */

	function $(id) {
		return document.getElementById(id);
	}

	/* An element with attributes and children; strings become text. */
	function el(tag, attrs, ...kids) {
		const e = document.createElement(tag);

		for (const [k, v] of Object.entries(attrs || {}))
			if (v !== null && v !== undefined && v !== false)
				e.setAttribute(k, v === true ? '' : String(v));
		for (const k of kids)
			if (k !== null && k !== undefined)
				e.append(k instanceof Node ? k : String(k));
		return e;
	}

	const SVG_NS = 'http://www.w3.org/2000/svg';

	function svg(tag, attrs, text) {
		const e = document.createElementNS(SVG_NS, tag);

		for (const [k, v] of Object.entries(attrs || {}))
			if (v !== null && v !== undefined)
				e.setAttribute(k, String(v));
		if (text !== undefined)
			e.textContent = text;
		return e;
	}

	function pad2(n) {
		return String(n).padStart(2, '0');
	}

	function clock(d, seconds) {
		return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) +
		    (seconds ? ':' + pad2(d.getSeconds()) : '');
	}

	/* A decision's time: the clock today, the date too before that. */
	function when(ts) {
		const d = new Date(ts * 1000), now = new Date();

		if (d.toDateString() === now.toDateString())
			return clock(d, true);
		return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' +
		    pad2(d.getDate()) + ' ' + clock(d, false);
	}

	function watts(w) {
		if (typeof w !== 'number' || !isFinite(w))
			return '–';
		if (Math.abs(w) >= 10000)
			return (w / 1000).toFixed(1) + ' kW';
		return Math.round(w) + ' W';
	}

	function energy(kwh) {
		if (typeof kwh !== 'number' || !isFinite(kwh))
			return '–';
		if (kwh >= 1)
			return kwh.toFixed(2) + ' kWh';
		return (kwh >= 0.01 ? Math.round(kwh * 1000) :
		    (kwh * 1000).toFixed(2)) + ' Wh';
	}

	function pct(x) {
		return typeof x === 'number' && isFinite(x) ?
		    Math.round(x * 100) + ' %' : '–';
	}

	/* Cores in a cpulist ("0-3,8,10-11"), or null without one. */
	function ncpus(list) {
		if (typeof list !== 'string')
			return null;
		let n = 0;

		for (const part of list.split(',')) {
			const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);

			if (m)
				n += m[2] === undefined ? 1 : Number(m[2]) -
				    Number(m[1]) + 1;
		}
		return n;
	}

	/* ---- talking to the controller -------------------------------------- */

	async function api(method, path, body) {
		const opt = { method, headers: {}, cache: 'no-store' };

		if (body !== undefined) {
			opt.headers['Content-Type'] = 'application/json';
			opt.body = typeof body === 'string' ? body :
			    JSON.stringify(body);
		}
		if (method !== 'GET' && state.token)
			opt.headers.Authorization = 'Bearer ' + state.token;
		const r = await fetch(path, opt);
		const text = await r.text();
		let data = null;

		try {
			data = text ? JSON.parse(text) : null;
		} catch (e) {
			data = null;
		}
		if (!r.ok) {
			const err = new Error(data && typeof data.error ===
			    'string' ? data.error : 'HTTP ' + r.status);

			err.status = r.status;
			throw err;
		}
		return data;
	}

	let noticeTimer = null;

	function notice(text, ok) {
		const n = $('notice');

		n.textContent = text;
		n.classList.toggle('ok', !!ok);
		n.hidden = false;
		clearTimeout(noticeTimer);
		if (ok)
			noticeTimer = setTimeout(() => { n.hidden = true; }, 8000);
	}

	/* ---- live status ---------------------------------------------------------- */

	function showLive() {
		const every = state.interval ? ' (a round every ' +
		    state.interval + ' s)' : '';
		let mode = state.live, text;

		if (!state.reachable)
			mode = 'offline';
		if (mode === 'sse')
			text = 'live' + every;
		else if (mode === 'poll')
			text = 'polling every ' + POLL_MS / 1000 + ' s';
		else if (mode === 'offline')
			text = 'controller unreachable, retrying';
		else
			text = 'connecting…';
		document.body.dataset.live = mode;
		$('live-text').textContent = text;
	}

	function setReachable(ok) {
		if (state.reachable === ok)
			return;
		state.reachable = ok;
		showLive();
	}

	/* ---- fleet ---------------------------------------------------------------- */

	function hostCard(name) {
		let c = state.cards.get(name);

		if (c)
			return c;
		c = {
			name: el('h3', null, name),
			reserve: el('span', { class: 'tag' }, 'reserve'),
			badge: el('span', { class: 'badge' }),
			bar: el('span'),
			busy: el('span'),
			cores: el('dd'),
			power: el('dd'),
			nvms: el('dd'),
			vms: el('ul', { class: 'vms', 'aria-label': 'VMs on ' + name }),
			why: el('p', { class: 'why' }),
			act: el('button', { type: 'button', class: 'act' }),
		};
		c.root = el('article', { class: 'host', 'data-host': name },
		    el('header', null, c.name, c.reserve, c.badge),
		    el('div', { class: 'busy' }, el('span', null, 'busy'),
		    el('div', { class: 'bar', 'aria-hidden': 'true' }, c.bar),
		    c.busy),
		    el('dl', { class: 'facts' },
		    el('dt', null, 'cores'), c.cores,
		    el('dt', null, 'power'), c.power,
		    el('dt', null, 'VMs'), c.nvms),
		    c.vms, c.why, c.act);
		c.act.addEventListener('click', () => drain(name));
		state.cards.set(name, c);
		return c;
	}

	function renderHosts() {
		const box = $('hosts');
		const byHost = new Map();
		const seen = new Set();

		for (const v of state.vms) {
			if (!byHost.has(v.host))
				byHost.set(v.host, []);
			byHost.get(v.host).push(v);
		}
		if (state.hosts.length === 0) {
			box.replaceChildren(el('p', { class: 'empty' },
			    'No host has reported yet.'));
			state.cards.clear();
			return;
		}
		if (box.querySelector('.empty'))
			box.replaceChildren();
		for (const h of state.hosts) {
			const c = hostCard(h.name);
			const up = ncpus(h.unparked), parked = ncpus(h.parked);
			const vms = byHost.get(h.name) || [];
			const on = h.state === 'on' || h.state === 'draining' ||
			    h.state === 'empty' || (h.state === 'maintenance' &&
			    h.connected);

			seen.add(h.name);
			c.root.dataset.state = h.state;
			c.root.setAttribute('aria-label', 'host ' + h.name + ': ' +
			    h.state);
			c.badge.textContent = h.state;
			c.reserve.hidden = !h.reserve;
			c.busy.textContent = on ? pct(h.busy) : '–';
			c.bar.style.width = on ? Math.round(
			    Math.min(Math.max(h.busy, 0), 1) * 100) + '%' : '0';
			/* Parking is what a running agent reports; an
			 * off host's last report is history. */
			c.cores.textContent = on && up !== null ? up +
			    ' unparked · ' + (parked || 0) + ' parked' :
			    h.cores ? h.cores + ' cores' : '–';
			c.power.textContent = on ? watts(h.watts) :
			    h.state === 'off' ? 'off' : '–';
			c.nvms.textContent = String(vms.length);
			c.vms.replaceChildren(...vms.map((v) => el('li', {
			    class: v.migrating ? 'migrating' : null,
			    title: v.vcpus + ' vCPU, ' + Math.round(v.mem_mb) +
			    ' MB' }, v.id + ' ' + pct(v.cpu) +
			    (v.migrating ? ' (migrating)' : ''))));
			c.vms.hidden = vms.length === 0;
			c.why.textContent = h.why || '';
			c.why.hidden = !h.why;
			c.act.textContent = h.maintenance ? 'Undrain' : 'Drain';
			c.act.setAttribute('aria-label', (h.maintenance ?
			    'Undrain ' : 'Drain ') + h.name);
			c.act.hidden = !state.token;
			if (c.root.parentNode !== box)
				box.append(c.root);
		}
		for (const [name, c] of state.cards)
			if (!seen.has(name)) {
				c.root.remove();
				state.cards.delete(name);
			}
		$('fleet-count').textContent = '(' + state.hosts.length +
		    (state.hosts.length === 1 ? ' host)' : ' hosts)');
	}

	function renderTotals() {
		const count = {};
		const s = state.series, n = s.t.length;

		for (const h of state.hosts)
			count[h.state] = (count[h.state] || 0) + 1;
		const on = (count.on || 0) + (count.draining || 0) +
		    (count.empty || 0);

		$('t-on').textContent = state.hosts.length ?
		    on + ' / ' + state.hosts.length : '–';
		$('t-off').textContent = String(count.off || 0);
		$('t-unknown').textContent = String(count.unknown || 0);
		$('t-vms').textContent = String(state.vms.length);
		$('t-watts').textContent = n ? watts(s.watts[n - 1]) : '–';
		$('t-base').textContent = 'baseline ' +
		    (n ? watts(s.base[n - 1]) : '–');
		const t = state.today;

		if (t && typeof t.saved_pct === 'number') {
			/* + 0 turns a rounded -0 into 0. */
			$('t-saved').textContent = (Math.round(t.saved_pct * 10) /
			    10 + 0).toFixed(1) + ' %';
			$('t-energy').textContent = energy(t.energy_kwh) + ' of ' +
			    energy(t.baseline_kwh);
		} else {
			$('t-saved').textContent = '–';
			$('t-energy').textContent = 'no round yet today';
		}
	}

	/* ---- decisions -------------------------------------------------------------- */

	function outcomeClass(o) {
		return o === null || o === undefined || o === 'done' ||
		    o === 'cancelled' ? 'outcome' : 'outcome failed';
	}

	/* What the journal says of a decision besides its inputs. */
	function decisionMeta(d) {
		return JSON.stringify({
			id: d.id, round: d.round, host: d.host, vm: d.vm,
			outcome: d.outcome, time: new Date(d.ts * 1000)
			    .toISOString(),
			updated: d.updated_ts ? new Date(d.updated_ts * 1000)
			    .toISOString() : null,
		}, null, 2);
	}

	function decisionItem(d) {
		const id = 'decision-' + d.id;
		const outcome = el('span', { class: outcomeClass(d.outcome) },
		    d.outcome || 'pending');
		const button = el('button', { type: 'button',
		    'aria-expanded': 'false', 'aria-controls': id },
		    el('time', { datetime: new Date(d.ts * 1000).toISOString() },
		    when(d.ts)),
		    el('span', { class: 'kind' }, d.kind),
		    el('span', { class: 'subject' }, d.subject || ''),
		    outcome,
		    el('span', { class: 'reason' }, d.reason || ''));
		const detail = el('div', { class: 'detail', id, hidden: true },
		    el('h4', null, 'Inputs'),
		    el('pre', null, JSON.stringify(d.inputs === undefined ?
		    null : d.inputs, null, 2)),
		    el('h4', null, 'Decision'),
		    el('pre', null, decisionMeta(d)));
		const li = el('li', { 'data-id': d.id, 'data-kind': d.kind,
		    'data-subject': d.subject || '',
		    'data-outcome': d.outcome || 'pending' }, button, detail);

		button.addEventListener('click', () => {
			const open = button.getAttribute('aria-expanded') !==
			    'true';

			button.setAttribute('aria-expanded', String(open));
			detail.hidden = !open;
		});
		li.ebbOutcome = outcome;
		li.ebbMeta = detail.lastChild;
		return li;
	}

	function mergeDecisions(list) {
		const ol = $('decisions');

		/* Oldest first, each new one on top: newest first. */
		const sorted = (list || []).slice().sort((a, b) => a.id - b.id);

		for (const d of sorted) {
			const li = state.decisions.get(d.id);

			if (li) {
				const o = d.outcome || 'pending';

				if (li.dataset.outcome !== o) {
					li.dataset.outcome = o;
					li.ebbOutcome.textContent = o;
					li.ebbOutcome.className =
					    outcomeClass(d.outcome);
					li.ebbMeta.textContent = decisionMeta(d);
				}
				continue;
			}
			const item = decisionItem(d);

			state.decisions.set(d.id, item);
			ol.prepend(item);
		}
		while (ol.children.length > DECISIONS_SHOWN) {
			const last = ol.lastElementChild;

			state.decisions.delete(Number(last.dataset.id));
			last.remove();
		}
		$('decisions-empty').hidden = ol.children.length > 0;
	}

	/* ---- the chart: sim/sim_plot.c's, drawn live ----------------------------- */

	const PLOT_W = 900, PLOT_H = 420;
	const PLOT_LEFT = 64, PLOT_RIGHT = PLOT_W - 72;
	const PLOT_TOP = 64, PLOT_BOTTOM = PLOT_H - 56;
	const PLOT_C = {
		hosts: '#1f77b4', power: '#d62728', base: '#7f7f7f',
		grid: '#e5e5e5', axis: '#444444', text: '#222222',
		muted: '#666666',
	};
	const PLOT_DASH = '6 4';
	const DAY_S = 86400;

	/* 1, 2, 2.5, 5 times a power of ten >= x; integers skip 2.5. */
	function plotNice(x, integer) {
		const m = [1, 2, 2.5, 5, 10];

		if (integer && x <= 1)
			return 1;
		const e = Math.pow(10, Math.floor(Math.log10(x)));

		for (const k of m) {
			if (integer && k === 2.5)
				continue;
			if (k * e >= x * (1 - 1e-9))
				return k * e;
		}
		return 10 * e;
	}

	function plotDecimals(step) {
		let d;

		for (d = 0; d < 6; d++) {
			const v = step * Math.pow(10, d);

			if (Math.abs(v - Math.round(v)) < 1e-6 * v)
				break;
		}
		return d;
	}

	/*
	 * Time ticks at round seconds, minutes or hours of local time, at
	 * most 8 intervals.  Unlike the day-long simulation, a live series
	 * starts at the left edge and grows to the right; it spans at least
	 * a minute, so that the first rounds still get an axis.
	 */
	function plotFitTime(tmin, tmax) {
		const steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
		    3600, 7200, 14400, 21600, 43200, DAY_S];
		const span = Math.max(tmax - tmin, 60);
		const off = -new Date(tmin * 1000).getTimezoneOffset() * 60;
		let step = Math.ceil(span / DAY_S / 8) * DAY_S;

		for (const s of steps)
			if (span / s <= 8) {
				step = s;
				break;
			}
		const lo = Math.floor((tmin + off) / step) * step - off;
		const n = Math.max(1, Math.ceil((tmax - lo) / step - 1e-9),
		    Math.ceil(span / step - 1e-9));

		return { lo, hi: lo + n * step, step, nticks: n, decimals: 0,
		    pxLo: PLOT_LEFT, pxHi: PLOT_RIGHT };
	}

	/* Both y axes from 0 with as many intervals, sharing grid lines. */
	function plotFitValues(hmax, pmax) {
		let best = -1, hs = 1, ps = 1, k = 3;

		if (!(hmax > 0))
			hmax = 1;
		if (!(pmax > 0))
			pmax = 1;
		for (let i = 3; i <= 7; i++) {
			const h = plotNice(hmax / i, true);
			const p = plotNice(pmax / i, false);
			const fill = hmax / (h * i) + pmax / (p * i);

			if (fill > best + 1e-9) {
				best = fill;
				hs = h;
				ps = p;
				k = i;
			}
		}
		return [
			{ lo: 0, hi: hs * k, step: hs, nticks: k, decimals: 0,
			    pxLo: PLOT_BOTTOM, pxHi: PLOT_TOP },
			{ lo: 0, hi: ps * k, step: ps, nticks: k,
			    decimals: plotDecimals(ps), pxLo: PLOT_BOTTOM,
			    pxHi: PLOT_TOP },
		];
	}

	function plotMap(a, v) {
		const px = a.pxLo + (v - a.lo) * (a.pxHi - a.pxLo) / (a.hi - a.lo);

		return Math.max(Math.min(px, Math.max(a.pxLo, a.pxHi)),
		    Math.min(a.pxLo, a.pxHi));
	}

	function plotTimeLabel(sc, t) {
		const d = new Date(t * 1000);
		const label = clock(d, sc.t.step < 60);

		if (sc.t.hi - sc.t.lo <= DAY_S)
			return label;
		return (d.getMonth() + 1) + '/' + d.getDate() + ' ' + label;
	}

	function f1(x) {
		return x.toFixed(1);
	}

	function plotGrid(g, sc) {
		const grid = svg('g', { stroke: PLOT_C.grid, 'stroke-width': 1,
		    'shape-rendering': 'crispEdges' });

		for (let i = 1; i < sc.t.nticks; i++) {
			const px = f1(plotMap(sc.t, sc.t.lo + i * sc.t.step));

			grid.append(svg('line', { x1: px, y1: PLOT_TOP, x2: px,
			    y2: PLOT_BOTTOM }));
		}
		for (let i = 1; i <= sc.hosts.nticks; i++) {
			const px = f1(plotMap(sc.hosts, i * sc.hosts.step));

			grid.append(svg('line', { x1: PLOT_LEFT, y1: px,
			    x2: PLOT_RIGHT, y2: px }));
		}
		g.append(grid);
	}

	function plotAxes(g, sc) {
		const ax = svg('g', { stroke: PLOT_C.axis, 'stroke-width': 1,
		    'shape-rendering': 'crispEdges' });
		const lab = svg('g', { 'font-size': 11 });

		ax.append(svg('line', { x1: PLOT_LEFT, y1: PLOT_BOTTOM,
		    x2: PLOT_RIGHT, y2: PLOT_BOTTOM }));
		ax.append(svg('line', { x1: PLOT_LEFT, y1: PLOT_TOP,
		    x2: PLOT_LEFT, y2: PLOT_BOTTOM }));
		ax.append(svg('line', { x1: PLOT_RIGHT, y1: PLOT_TOP,
		    x2: PLOT_RIGHT, y2: PLOT_BOTTOM }));
		for (let i = 0; i <= sc.t.nticks; i++) {
			const v = sc.t.lo + i * sc.t.step;
			const px = f1(plotMap(sc.t, v));

			ax.append(svg('line', { x1: px, y1: PLOT_BOTTOM, x2: px,
			    y2: PLOT_BOTTOM + 5 }));
			lab.append(svg('text', { x: px, y: PLOT_BOTTOM + 18,
			    'text-anchor': 'middle' }, plotTimeLabel(sc, v)));
		}
		for (let i = 0; i <= sc.hosts.nticks; i++) {
			const px = plotMap(sc.hosts, i * sc.hosts.step);

			ax.append(svg('line', { x1: PLOT_LEFT - 5, y1: f1(px),
			    x2: PLOT_LEFT, y2: f1(px) }));
			ax.append(svg('line', { x1: PLOT_RIGHT, y1: f1(px),
			    x2: PLOT_RIGHT + 5, y2: f1(px) }));
			lab.append(svg('text', { x: PLOT_LEFT - 8, y: f1(px + 4),
			    'text-anchor': 'end' }, (i * sc.hosts.step)
			    .toFixed(sc.hosts.decimals)));
			lab.append(svg('text', { x: PLOT_RIGHT + 8,
			    y: f1(plotMap(sc.power, i * sc.power.step) + 4) },
			    (i * sc.power.step).toFixed(sc.power.decimals)));
		}
		g.append(ax, lab);
		/* Titles in their series' colour say which axis is whose. */
		g.append(svg('text', { x: (PLOT_LEFT + PLOT_RIGHT) / 2,
		    y: PLOT_H - 14, 'text-anchor': 'middle' }, 'time of day'));
		g.append(svg('text', { transform: 'translate(18 ' +
		    f1((PLOT_TOP + PLOT_BOTTOM) / 2) + ') rotate(-90)',
		    'text-anchor': 'middle', fill: PLOT_C.hosts },
		    'active hosts'));
		g.append(svg('text', { transform: 'translate(' + (PLOT_W - 18) +
		    ' ' + f1((PLOT_TOP + PLOT_BOTTOM) / 2) + ') rotate(90)',
		    'text-anchor': 'middle', fill: PLOT_C.power },
		    'fleet power (' + sc.unitName + ')'));
	}

	/*
	 * One path per series, as plot_series(): a step line holds each
	 * value until the next sample and the last one for one more
	 * interval; a point alone is drawn as a small ring.
	 */
	function plotSeries(g, sc, t, l) {
		const ring = 'm-3 0a3 3 0 1 0 6 0a3 3 0 1 0 -6 0';
		let d = '', pen = false, seg = 0, prevT = NaN, lastT = NaN;

		for (let i = 0; i < t.length; i++) {
			if (!isFinite(t[i]))
				continue;
			prevT = lastT;
			lastT = t[i];
			const x = plotMap(sc.t, t[i]);
			const v = l.v[i];

			if (typeof v !== 'number' || !isFinite(v)) {
				if (pen && l.step)
					d += 'H' + f1(x);
				else if (pen && seg === 1)
					d += ring;
				pen = false;
				continue;
			}
			const y = plotMap(l.y, v / l.unit);

			if (!pen) {
				d += 'M' + f1(x) + ' ' + f1(y);
				seg = 1;
			} else if (l.step) {
				d += 'H' + f1(x) + ' V' + f1(y);
				seg++;
			} else {
				d += 'L' + f1(x) + ' ' + f1(y);
				seg++;
			}
			pen = true;
		}
		if (d === '')
			return;
		if (pen && l.step && lastT > prevT)
			d += 'H' + f1(plotMap(sc.t, Math.min(2 * lastT - prevT,
			    sc.t.hi)));
		else if (pen && seg === 1)
			d += ring;
		g.append(svg('path', { fill: 'none', stroke: l.color,
		    'stroke-width': 2, 'stroke-linecap': 'round',
		    'stroke-linejoin': 'round', 'stroke-dasharray': l.dash, d }));
	}

	function plotLegend(g, lines) {
		const charW = 6.6, y = 46;
		let x = PLOT_LEFT;

		for (const l of lines) {
			g.append(svg('line', { x1: f1(x), y1: y, x2: f1(x + 24),
			    y2: y, stroke: l.color, 'stroke-width': 2,
			    'stroke-dasharray': l.dash }));
			g.append(svg('text', { x: f1(x + 30), y: y + 4 }, l.label));
			x += 30 + charW * l.label.length + 24;
		}
	}

	function renderChart() {
		const s = state.series, n = s.t.length;
		const root = svg('svg', { viewBox: '0 0 ' + PLOT_W + ' ' + PLOT_H,
		    role: 'img', 'aria-labelledby': 'chart-title chart-desc',
		    'font-family': 'sans-serif', 'font-size': 12,
		    fill: PLOT_C.text });
		const title = 'Active hosts and fleet power';

		root.append(svg('title', { id: 'chart-title' }, title));
		root.append(svg('desc', { id: 'chart-desc' }, n ? 'Last round: ' +
		    s.hosts[n - 1] + ' hosts on, ' + watts(s.watts[n - 1]) +
		    ' against a baseline of ' + watts(s.base[n - 1]) + '.' :
		    'No round yet.'));
		root.append(svg('rect', { width: PLOT_W, height: PLOT_H,
		    fill: '#ffffff' }));
		root.append(svg('text', { x: PLOT_LEFT, y: 26, 'font-size': 16,
		    'font-weight': 'bold' }, title));
		let hmax = 0, wmax = 0;

		for (let i = 0; i < n; i++) {
			hmax = Math.max(hmax, s.hosts[i]);
			wmax = Math.max(wmax, s.watts[i], s.base[i]);
		}
		if (n === 0) {
			root.append(svg('text', { x: (PLOT_LEFT + PLOT_RIGHT) / 2,
			    y: (PLOT_TOP + PLOT_BOTTOM) / 2, 'font-size': 16,
			    'text-anchor': 'middle', fill: PLOT_C.muted },
			    'no data yet: waiting for the first round'));
			$('chart').replaceChildren(root);
			return;
		}
		/* kW as the simulator's chart, but watts for a small fleet. */
		const unit = wmax >= 2000 ? 1000 : 1;
		const [hosts, power] = plotFitValues(hmax, wmax / unit);
		const sc = { t: plotFitTime(s.t[0], s.t[n - 1]), hosts, power,
		    unitName: unit === 1000 ? 'kW' : 'W' };
		const lines = [
			{ label: 'active hosts', color: PLOT_C.hosts, v: s.hosts,
			    unit: 1, y: sc.hosts, step: true },
			{ label: 'fleet power', color: PLOT_C.power, v: s.watts,
			    unit, y: sc.power },
			{ label: 'baseline, no consolidation', color: PLOT_C.base,
			    dash: PLOT_DASH, v: s.base, unit, y: sc.power },
		];

		plotGrid(root, sc);
		plotAxes(root, sc);
		/* Back to front: the baseline under the measured lines. */
		for (let i = lines.length - 1; i >= 0; i--)
			plotSeries(root, sc, s.t, lines[i]);
		plotLegend(root, lines);
		$('chart').replaceChildren(root);
	}

	let chartQueued = false;

	function chartSoon() {
		if (chartQueued)
			return;
		chartQueued = true;
		requestAnimationFrame(() => {
			chartQueued = false;
			renderChart();
		});
	}

	function seriesPush(ts, hosts, w, base) {
		const s = state.series;

		if (s.t.length && ts <= s.t[s.t.length - 1])
			return;
		s.t.push(ts);
		s.hosts.push(hosts);
		s.watts.push(w);
		s.base.push(base);
		const over = s.t.length - SERIES_MAX;

		if (over > 0)
			for (const k of ['t', 'hosts', 'watts', 'base'])
				s[k].splice(0, over);
	}

	async function loadSeries(all) {
		const s = state.series;
		const since = !all && s.t.length ? s.t[s.t.length - 1] : 0;
		const r = await api('GET', '/api/series' +
		    (since ? '?since=' + since : ''));

		if (all)
			state.series = { t: [], hosts: [], watts: [], base: [] };
		for (let i = 0; i < r.t.length; i++)
			seriesPush(r.t[i], r.hosts_on[i], r.watts[i],
			    r.baseline_w[i]);
		state.today = r.today;
		if (state.interval !== r.interval_s) {
			state.interval = r.interval_s;
			showLive();
		}
		chartSoon();
		renderTotals();
	}

	/* ---- refreshing ------------------------------------------------------------- */

	let refreshing = null, again = false, lastRefresh = 0, soon = null;

	/* Fetches the fleet and the decisions; calls while one runs coalesce. */
	function refresh() {
		if (refreshing) {
			again = true;
			return refreshing;
		}
		lastRefresh = Date.now();
		refreshing = (async () => {
			try {
				const [hosts, vms, decisions] = await Promise.all([
					api('GET', '/api/hosts'),
					api('GET', '/api/vms'),
					api('GET', '/api/decisions?limit=50'),
				]);

				state.hosts = hosts || [];
				state.vms = vms || [];
				renderHosts();
				renderTotals();
				mergeDecisions(decisions);
				renderOperator();
				setReachable(true);
			} catch (e) {
				setReachable(false);
			}
		})().finally(() => {
			refreshing = null;
			if (again) {
				again = false;
				refreshSoon();
			}
		});
		return refreshing;
	}

	/* A refresh, but not more than one a second whatever the rounds. */
	function refreshSoon() {
		if (soon)
			return;
		soon = setTimeout(() => {
			soon = null;
			refresh();
		}, Math.max(0, REFRESH_GAP_MS - (Date.now() - lastRefresh)));
	}

	function poll() {
		refresh();
		loadSeries(false).catch(() => setReachable(false));
	}

	function startPolling() {
		if (state.polling === null)
			state.polling = setInterval(poll, POLL_MS);
	}

	function stopPolling() {
		if (state.polling !== null) {
			clearInterval(state.polling);
			state.polling = null;
		}
	}

	/*
	 * The event stream.  EventSource reconnects by itself after a
	 * network error; a refusal (503: too many streams) closes it for
	 * good, so the page polls and tries again later.
	 */
	function connect() {
		if (!window.EventSource) {
			state.live = 'poll';
			showLive();
			startPolling();
			return;
		}
		const es = new EventSource('/api/events');

		es.addEventListener('open', () => {
			state.live = 'sse';
			stopPolling();
			setReachable(true);
			showLive();
			/* Whatever happened while away. */
			loadSeries(true).catch(() => setReachable(false));
			refresh();
		});
		es.addEventListener('round', (ev) => {
			let d;

			try {
				d = JSON.parse(ev.data);
			} catch (e) {
				return;
			}
			seriesPush(d.ts, d.hosts_on, d.watts, d.baseline_w);
			state.today = d.today;
			document.body.dataset.rounds =
			    String(Number(document.body.dataset.rounds || 0) + 1);
			chartSoon();
			renderTotals();
			refreshSoon();
		});
		es.addEventListener('error', () => {
			state.live = 'poll';
			showLive();
			startPolling();
			if (es.readyState === EventSource.CLOSED) {
				es.close();
				setTimeout(connect, 6 * POLL_MS);
			}
		});
	}

	/* ---- operator actions --------------------------------------------------------- */

	function refused(e, what) {
		if (e.status === 401) {
			setToken('');
			notice('The controller refused the token (401): ' + what +
			    ' was not done. The page is read-only again.');
			return;
		}
		notice(what + ' failed: ' + e.message);
	}

	async function drain(name) {
		const h = state.hosts.find((x) => x.name === name);

		if (!h || !state.token)
			return;
		const on = !h.maintenance;

		try {
			const r = await api('POST', '/api/hosts/' +
			    encodeURIComponent(name) + '/maintenance', { on });

			notice(name + ' is ' + (r && r.state ? r.state :
			    (on ? 'in maintenance' : 'released')) + '.', true);
		} catch (e) {
			refused(e, (on ? 'Draining ' : 'Undraining ') + name);
		}
		refresh();
	}

	async function migrate(ev) {
		ev.preventDefault();
		const vm = $('mig-vm').value, to = $('mig-to').value;

		if (!vm || !to || !state.token)
			return;
		try {
			const r = await api('POST', '/api/migrate', { vm, to });

			notice('Migration of ' + vm + ' to ' + to +
			    ' started (decision ' + (r ? r.decision : '?') + ').',
			    true);
		} catch (e) {
			refused(e, 'Migrating ' + vm);
		}
		refresh();
	}

	async function loadPolicy() {
		try {
			const p = await api('GET', '/api/policy');

			$('policy-text').value = JSON.stringify(p, null, 2);
			$('policy').textContent = 'policy ' + (p && p.name ?
			    p.name : '?');
		} catch (e) {
			$('policy').textContent = 'policy unknown';
		}
	}

	async function applyPolicy() {
		const text = $('policy-text').value;

		try {
			JSON.parse(text);
		} catch (e) {
			notice('The policy is not JSON: ' + e.message);
			return;
		}
		try {
			const p = await api('PUT', '/api/policy', text);

			notice('Policy ' + (p && p.name ? p.name : '') +
			    ' is in force.', true);
			loadPolicy();
		} catch (e) {
			refused(e, 'Applying the policy');
		}
		refresh();
	}

	function option(value, label) {
		return el('option', { value }, label);
	}

	/* The operator's forms: lists from the fleet, enabled by a token. */
	function renderOperator() {
		const ro = !state.token;
		const vmSel = $('mig-vm'), toSel = $('mig-to');
		const keepVm = vmSel.value, keepTo = toSel.value;
		const targets = state.hosts.filter((h) => h.state === 'on' &&
		    h.connected);

		vmSel.replaceChildren(...(state.vms.length ? state.vms.map((v) =>
		    option(v.id, v.id + ' (on ' + v.host + ')')) :
		    [option('', 'no VM')]));
		toSel.replaceChildren(...(targets.length ? targets.map((h) =>
		    option(h.name, h.name)) : [option('', 'no host on')]));
		vmSel.value = keepVm;
		toSel.value = keepTo;
		if (vmSel.selectedIndex < 0)
			vmSel.selectedIndex = 0;
		if (toSel.selectedIndex < 0)
			toSel.selectedIndex = 0;
		vmSel.disabled = ro || !state.vms.length;
		toSel.disabled = ro || !targets.length;
		$('mig-go').disabled = ro || !state.vms.length || !targets.length;
		$('policy-apply').disabled = ro;
		$('policy-text').readOnly = ro;
		$('ro-note').hidden = !ro;
	}

	function setToken(token) {
		state.token = token;
		try {
			if (token)
				sessionStorage.setItem(TOKEN_KEY, token);
			else
				sessionStorage.removeItem(TOKEN_KEY);
		} catch (e) {
			/* Storage refused (privacy mode): this page only. */
		}
		document.body.dataset.mode = token ? 'operator' : 'read-only';
		$('token-set').hidden = !!token;
		$('token-clear').hidden = !token;
		$('token').value = '';
		for (const c of state.cards.values())
			c.act.hidden = !token;
		renderOperator();
	}

	/* ---- start ----------------------------------------------------------------------- */

	function start() {
		let token = '';

		try {
			token = sessionStorage.getItem(TOKEN_KEY) || '';
		} catch (e) {
			token = '';
		}
		setToken(token);
		$('token-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			const t = $('token').value.trim();

			if (!t) {
				notice('Enter the API token first.');
				return;
			}
			setToken(t);
			notice('Operator mode: changes are sent with the token, ' +
			    'which stays in this tab only.', true);
		});
		$('token-clear').addEventListener('click', () => {
			setToken('');
			notice('Read-only again.', true);
		});
		$('migrate-form').addEventListener('submit', migrate);
		$('policy-apply').addEventListener('click', applyPolicy);
		$('policy-reload').addEventListener('click', loadPolicy);
		renderChart();
		loadPolicy();
		refresh();
		loadSeries(true).catch(() => setReachable(false));
		connect();
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', start);
	else
		start();
})();
