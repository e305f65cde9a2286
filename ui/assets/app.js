// wasmpod dashboard. Hand-written, no dependencies. Every call goes to the
// real Kubernetes API with "Authorization: Bearer <token>"; the token lives
// in sessionStorage (this tab only). DOM is built with textContent and
// setAttribute only: no data ever reaches innerHTML.
'use strict';
(function () {
  const TOKEN_KEY = 'wasmpod.token';
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let viewCtl = null; // AbortController of the current view
  const main = document.getElementById('main');
  const liveEl = document.getElementById('live');

  // ---- DOM helpers --------------------------------------------------------
  function el(tag, attrs) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v == null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = String(v);
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(e, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) { c.forEach((x) => add(e, x)); return; }
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, String(attrs[k]));
    if (text != null) e.textContent = String(text);
    return e;
  }
  function link(href, text) { return el('a', { href: href, text: text }); }
  function podHref(ns, name) { return '#/pod/' + encodeURIComponent(ns) + '/' + encodeURIComponent(name); }
  const enc = encodeURIComponent;

  // ---- API ----------------------------------------------------------------
  class APIError extends Error {
    constructor(status, msg) { super(msg); this.status = status; }
  }
  function headers(extra) {
    return Object.assign({ Authorization: 'Bearer ' + token, Accept: 'application/json' }, extra || {});
  }
  async function api(method, path, body, ctype) {
    const init = { method: method, headers: headers(body !== undefined ? { 'Content-Type': ctype || 'application/json' } : null), cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    const r = await fetch(path, init);
    const text = await r.text();
    let obj = null;
    try { obj = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
    if (r.status === 401) { logout('The API server refused the token (401 Unauthorized).'); }
    if (!r.ok) throw new APIError(r.status, (obj && obj.message) || text || r.statusText);
    return obj;
  }

  // readLines calls onLine for every line of a streamed response body.
  async function readLines(resp, onLine, onText) {
    const rd = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const r = await rd.read();
      if (r.done) break;
      const chunk = dec.decode(r.value, { stream: true });
      if (onText) { onText(chunk); continue; }
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim() && onLine(line) === false) { rd.cancel(); return; }
      }
    }
  }

  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
  function key(o) { return (o.metadata.namespace || '') + '/' + o.metadata.name; }

  let watchErrors = 0;
  function setLive() {
    liveEl.textContent = watchErrors ? 'reconnecting…' : 'live';
    liveEl.className = watchErrors ? 'err' : '';
  }

  // watchList keeps store (key -> object) equal to the collection at path:
  // a list, then a watch from its resourceVersion; a 410 Gone or a broken
  // stream lists again. onChange runs at most once a frame.
  function watchList(path, signal, onChange, onError) {
    const store = new Map();
    let rv = '';
    let pending = false;
    const changed = () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; if (!signal.aborted) onChange(store); });
    };
    (async () => {
      let failing = false;
      while (!signal.aborted) {
        try {
          if (!rv) {
            const l = await api('GET', path);
            if (signal.aborted) return;
            store.clear();
            for (const o of l.items || []) store.set(key(o), o);
            rv = l.metadata.resourceVersion;
            changed();
          }
          const sep = path.includes('?') ? '&' : '?';
          const resp = await fetch(path + sep + 'watch=1&allowWatchBookmarks=true&resourceVersion=' + enc(rv),
            { headers: headers(), signal: signal, cache: 'no-store', credentials: 'omit' });
          if (resp.status === 401) { logout('The API server refused the token (401 Unauthorized).'); return; }
          if (!resp.ok) { if (resp.status === 410) rv = ''; throw new APIError(resp.status, 'watch: ' + resp.status); }
          if (failing) { failing = false; watchErrors--; setLive(); }
          await readLines(resp, (line) => {
            const ev = JSON.parse(line);
            const o = ev.object;
            if (ev.type === 'ERROR') { rv = ''; return false; }
            if (o && o.metadata && o.metadata.resourceVersion) rv = o.metadata.resourceVersion;
            if (ev.type === 'ADDED' || ev.type === 'MODIFIED') store.set(key(o), o);
            else if (ev.type === 'DELETED') store.delete(key(o));
            else return true;
            changed();
            return true;
          });
        } catch (e) {
          if (signal.aborted) return;
          if (e instanceof APIError && e.status === 403) { if (onError) onError(e); return; }
          if (e instanceof APIError && e.status === 401) return;
          if (!failing) { failing = true; watchErrors++; setLive(); }
          if (onError) onError(e);
          await sleep(1000);
        }
      }
      if (failing) { watchErrors--; setLive(); }
    })();
    return store;
  }

  // ---- formatting -----------------------------------------------------------
  function age(ts) {
    if (!ts) return '';
    let s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
    if (s < 120) return s + 's';
    let m = Math.floor(s / 60);
    if (m < 120) return m + 'm';
    const h = Math.floor(m / 60);
    if (h < 48) return h + 'h';
    return Math.floor(h / 24) + 'd';
  }
  function podStatus(p) {
    if (p.metadata.deletionTimestamp) return 'Terminating';
    const st = p.status || {};
    let reason = st.reason || st.phase || 'Pending';
    for (const c of st.initContainerStatuses || []) {
      if (c.state && c.state.waiting && c.state.waiting.reason && c.state.waiting.reason !== 'PodInitializing') return 'Init:' + c.state.waiting.reason;
      if (c.state && c.state.terminated && c.state.terminated.exitCode !== 0) return 'Init:' + (c.state.terminated.reason || 'Error');
    }
    for (const c of st.containerStatuses || []) {
      if (c.state && c.state.waiting && c.state.waiting.reason) reason = c.state.waiting.reason;
      else if (c.state && c.state.terminated && c.state.terminated.reason) reason = c.state.terminated.reason;
    }
    return reason;
  }
  function statusClass(s) {
    if (/^(Running|Succeeded|Completed|True|Ready|complete|Complete|Normal)$/.test(s)) return 's-ok';
    if (/Err|Fail|BackOff|False|Unknown|Evicted|stalled|Warning|OOM/.test(s)) return 's-bad';
    return 's-warn';
  }
  function podReady(p) {
    const cs = (p.status && p.status.containerStatuses) || [];
    const n = (p.spec.containers || []).length;
    return cs.filter((c) => c.ready).length + '/' + n;
  }
  function restarts(p) {
    return ((p.status && p.status.containerStatuses) || []).reduce((a, c) => a + (c.restartCount || 0), 0);
  }
  function labelChips(m) {
    return Object.keys(m || {}).sort().map((k) => el('span', { class: 'chip', text: k + '=' + m[k] }));
  }
  function statusSpan(s) { return el('span', { class: statusClass(s), text: s }); }

  // A YAML rendering of a JSON object (for display only).
  function yScalar(v) {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    const s = String(v);
    if (s === '' || /^[\s\-?:,\[\]{}#&*!|>'"%@`]|[\s]$|: | #|\n/.test(s) || /^(true|false|null|yes|no|on|off|y|n|~)$/i.test(s) || /^[-+.]?\d/.test(s)) return JSON.stringify(s);
    return s;
  }
  const isBlock = (x) => x !== null && typeof x === 'object' && (Array.isArray(x) ? x.length > 0 : Object.keys(x).length > 0);
  const inline = (x) => (Array.isArray(x) ? '[]' : x !== null && typeof x === 'object' ? '{}' : yScalar(x));
  function toYAML(v, ind) {
    const out = [];
    if (Array.isArray(v)) {
      for (const x of v) {
        if (isBlock(x) && !Array.isArray(x)) {
          const sub = toYAML(x, ind + '  ');
          out.push(ind + '- ' + sub[0].slice(ind.length + 2));
          for (let i = 1; i < sub.length; i++) out.push(sub[i]);
        } else if (isBlock(x)) {
          out.push(ind + '-');
          toYAML(x, ind + '  ').forEach((l) => out.push(l));
        } else out.push(ind + '- ' + inline(x));
      }
    } else {
      for (const k of Object.keys(v)) {
        const x = v[k];
        if (isBlock(x)) {
          out.push(ind + yScalar(k) + ':');
          toYAML(x, Array.isArray(x) ? ind : ind + '  ').forEach((l) => out.push(l));
        } else out.push(ind + yScalar(k) + ': ' + inline(x));
      }
    }
    return out;
  }

  // ---- modal confirmation -------------------------------------------------
  // ask shows a confirmation (with an input when def is not undefined);
  // it resolves to the input's value (or true), or null when cancelled.
  function ask(title, text, def, okLabel) {
    const m = document.getElementById('modal');
    const input = document.getElementById('modal-input');
    const ok = document.getElementById('modal-ok');
    const cancel = document.getElementById('modal-cancel');
    document.getElementById('modal-title').textContent = title;
    document.getElementById('modal-text').textContent = text;
    ok.textContent = okLabel || 'OK';
    input.hidden = def === undefined;
    input.value = def === undefined ? '' : String(def);
    m.hidden = false;
    (def === undefined ? ok : input).focus();
    return new Promise((resolve) => {
      const done = (v) => {
        m.hidden = true;
        ok.removeEventListener('click', onOk);
        cancel.removeEventListener('click', onCancel);
        input.removeEventListener('keydown', onKey);
        resolve(v);
      };
      const onOk = () => done(def === undefined ? true : input.value);
      const onCancel = () => done(null);
      const onKey = (e) => { if (e.key === 'Enter') onOk(); else if (e.key === 'Escape') onCancel(); };
      ok.addEventListener('click', onOk);
      cancel.addEventListener('click', onCancel);
      input.addEventListener('keydown', onKey);
    });
  }
  function flash(msg, bad) {
    const f = el('div', { class: 'card ' + (bad ? 'err' : 's-ok'), role: 'status', id: 'flash', text: msg });
    const old = document.getElementById('flash');
    if (old) old.remove();
    main.prepend(f);
    setTimeout(() => f.remove(), 6000);
  }
  async function act(title, text, fn) {
    if ((await ask(title, text, undefined, title)) === null) return;
    try { await fn(); flash(title + ': done'); } catch (e) { flash(title + ': ' + e.message, true); }
  }

  // ---- resources and actions ----------------------------------------------
  const R = {
    pods: { base: '/api/v1', res: 'pods' },
    deployments: { base: '/apis/apps/v1', res: 'deployments' },
    replicasets: { base: '/apis/apps/v1', res: 'replicasets' },
    daemonsets: { base: '/apis/apps/v1', res: 'daemonsets' },
    statefulsets: { base: '/apis/apps/v1', res: 'statefulsets' },
    jobs: { base: '/apis/batch/v1', res: 'jobs' },
    services: { base: '/api/v1', res: 'services' },
    endpoints: { base: '/api/v1', res: 'endpoints' },
    events: { base: '/api/v1', res: 'events' },
    nodes: { base: '/api/v1', res: 'nodes', cluster: true },
  };
  function coll(kind, ns, query) {
    const r = R[kind];
    const p = r.base + (ns && !r.cluster ? '/namespaces/' + enc(ns) : '') + '/' + r.res;
    return query ? p + '?' + query : p;
  }
  function objPath(kind, ns, name) { return coll(kind, ns) + '/' + enc(name); }
  const MERGE = 'application/merge-patch+json';
  function delObj(kind, o) {
    return act('Delete', 'Delete ' + kind.replace(/s$/, '') + ' ' + key(o) + '?', () =>
      api('DELETE', objPath(kind, o.metadata.namespace, o.metadata.name), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }));
  }
  async function scaleObj(kind, o) {
    const cur = (o.spec && o.spec.replicas) != null ? o.spec.replicas : 1;
    const v = await ask('Scale', 'Replicas for ' + kind.replace(/s$/, '') + ' ' + key(o) + ':', cur, 'Scale');
    if (v === null) return;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) { flash('Scale: "' + v + '" is not a whole number ≥ 0', true); return; }
    try {
      await api('PATCH', objPath(kind, o.metadata.namespace, o.metadata.name) + '/scale', { spec: { replicas: n } }, MERGE);
      flash('Scaled ' + o.metadata.name + ' to ' + n);
    } catch (e) { flash('Scale: ' + e.message, true); }
  }
  function restartObj(kind, o) {
    return act('Restart', 'Rollout restart ' + kind.replace(/s$/, '') + ' ' + key(o) + '?', () =>
      api('PATCH', objPath(kind, o.metadata.namespace, o.metadata.name),
        { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } }, MERGE));
  }
  function buttons(list) {
    return el('td', { class: 'actions' }, list.map((b) => el('button', { type: 'button', class: b[2] || '', 'data-action': b[0].toLowerCase(), text: b[0], onclick: b[1] })));
  }

  // ---- live tables ----------------------------------------------------------
  // liveTable: a table whose rows are keyed by object; a row is rebuilt only
  // when its object's resourceVersion changes.
  function liveTable(id, cols, rowActions) {
    const thead = el('tr', null, cols.map((c) => el('th', { class: c.opt ? 'opt' : null, text: c.t })), rowActions ? el('th', { text: '' }) : null);
    const tbody = el('tbody');
    const table = el('table', { id: id }, el('thead', null, thead), tbody);
    const rows = new Map();
    let order = [];
    const empty = el('p', { class: 'mut empty', text: 'None.' });
    const wrap = el('div', { class: 'scroll' }, table, empty);
    function update(objs) {
      const seen = new Set();
      const next = [];
      for (const o of objs) {
        const k = o.metadata.uid || key(o);
        seen.add(k);
        let r = rows.get(k);
        if (!r || r.rv !== o.metadata.resourceVersion || r.tick !== tick) {
          const tr = el('tr', { 'data-key': key(o), 'data-name': o.metadata.name },
            cols.map((c) => el('td', { class: (c.cls || 'c-' + c.t.toLowerCase()) + (c.opt ? ' opt' : '') + (c.wrap ? ' wrap' : '') }, c.f(o))),
            rowActions ? buttons(rowActions(o)) : null);
          if (r) r.tr.replaceWith(tr);
          r = { tr: tr, rv: o.metadata.resourceVersion, tick: tick };
          rows.set(k, r);
        }
        next.push(r.tr);
      }
      for (const k of Array.from(rows.keys())) if (!seen.has(k)) { rows.get(k).tr.remove(); rows.delete(k); }
      if (next.length !== order.length || next.some((t, i) => t !== order[i])) tbody.replaceChildren(...next);
      order = next;
      empty.hidden = next.length > 0;
    }
    return { el: wrap, update: update };
  }
  // tick changes every 30 s so that ages are redrawn.
  let tick = 0;
  setInterval(() => { tick++; }, 30000);
  const byName = (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  function section(title, body) { return el('section', { class: 'card' }, el('h2', { text: title }), body); }
  function errBox() { return el('p', { class: 'err', hidden: true }); }
  function showErr(box) { return (e) => { box.hidden = false; box.textContent = e.message; }; }
  function nsCol(ns) { return ns ? [] : [{ t: 'Namespace', f: (o) => o.metadata.namespace }]; }

  // ---- views ----------------------------------------------------------------
  function currentNS() { return document.getElementById('ns').value.trim(); }

  function podCols(ns) {
    return [{ t: 'Name', f: (p) => link(podHref(p.metadata.namespace, p.metadata.name), p.metadata.name) }]
      .concat(nsCol(ns))
      .concat([
        { t: 'Ready', f: podReady },
        { t: 'Status', f: (p) => statusSpan(podStatus(p)) },
        { t: 'Restarts', f: restarts },
        { t: 'Age', f: (p) => age(p.metadata.creationTimestamp) },
        { t: 'Node', opt: true, f: (p) => p.spec.nodeName || '' },
        { t: 'IP', opt: true, f: (p) => (p.status && p.status.podIP) || '' },
        { t: 'Labels', opt: true, wrap: true, f: (p) => labelChips(p.metadata.labels) },
      ]);
  }

  function viewPods(sig) {
    const ns = currentNS();
    const t = liveTable('pods', podCols(ns), (p) => [['Delete', () => delObj('pods', p), 'danger']]);
    const eb = errBox();
    main.append(el('h1', { text: 'Pods' + (ns ? ' in ' + ns : ' in all namespaces') }), section('Pods', [eb, t.el]));
    watchList(coll('pods', ns), sig, (s) => t.update(Array.from(s.values()).sort(byName)), showErr(eb));
  }

  function nodeReady(n) {
    const c = ((n.status && n.status.conditions) || []).find((x) => x.type === 'Ready');
    return c ? (c.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown';
  }
  function viewOverview(sig) {
    const nodes = liveTable('nodes', [
      { t: 'Name', f: (n) => n.metadata.name },
      { t: 'Status', f: (n) => statusSpan(nodeReady(n) + (n.spec.unschedulable ? ',SchedulingDisabled' : '')) },
      { t: 'Conditions', wrap: true, f: (n) => ((n.status && n.status.conditions) || []).map((c) => {
        const good = c.type === 'Ready' ? c.status === 'True' : c.status === 'False';
        return el('span', { class: 'chip ' + (good ? 's-ok' : 's-bad'), title: c.message || '', text: c.type + '=' + c.status });
      }) },
      { t: 'Pods', f: (n) => (podsByNode.get(n.metadata.name) || 0) + ' / ' + (((n.status || {}).allocatable || {}).pods || '?') },
      { t: 'CPU use', cls: 'c-cpuuse', f: (n) => useCell(n, 'cpu', parseCPU, fmtCPU) },
      { t: 'Memory use', cls: 'c-memuse', opt: true, f: (n) => useCell(n, 'memory', parseMem, fmtMem) },
      { t: 'CPU', opt: true, f: (n) => ((n.status || {}).allocatable || {}).cpu || '' },
      { t: 'Memory', opt: true, f: (n) => { const q = ((n.status || {}).allocatable || {}).memory; return q ? fmtMem(parseMem(q)) : ''; } },
      { t: 'Version', opt: true, f: (n) => ((n.status || {}).nodeInfo || {}).kubeletVersion || '' },
      { t: 'Age', f: (n) => age(n.metadata.creationTimestamp) },
    ]);
    const podsByNode = new Map();
    const nodeUse = new Map(); // name -> metrics.k8s.io NodeMetrics
    function useCell(n, res, parse, fmt) {
      const m = nodeUse.get(n.metadata.name);
      if (!m) return '';
      const used = parse((m.usage || {})[res]), alloc = parse(((n.status || {}).allocatable || {})[res]);
      return fmt(used) + (alloc ? ' (' + Math.round(100 * used / alloc) + '%)' : '');
    }
    const ne = errBox();
    const pe = errBox();
    const charts = el('div', { class: 'charts', id: 'pod-charts' });
    main.append(el('h1', { text: 'Overview' }), section('Nodes', [ne, nodes.el]), section('Pods', [pe, charts]));
    let nodeStore = new Map();
    const redraw = () => nodes.update(Array.from(nodeStore.values()).sort(byName));
    let nodesErr = null;
    nodeStore = watchList(coll('nodes'), sig, redraw, (e) => { nodesErr = e; showErr(ne)(e); });
    const useCharts = el('div', { class: 'charts', id: 'node-usage' });
    main.append(section('Node usage', useCharts));
    poll(sig, 15000, async () => {
      let l;
      try { l = await api('GET', '/apis/metrics.k8s.io/v1beta1/nodes'); } catch (e) {
        useCharts.replaceChildren(el('p', { class: 'mut', text: 'No metrics: ' + e.message }));
        return e.status !== 403;
      }
      nodeUse.clear();
      for (const m of l.items || []) nodeUse.set(m.metadata.name, m);
      const pct = (res, parse) => Array.from(nodeStore.values()).sort(byName).map((n) => {
        const m = nodeUse.get(n.metadata.name), alloc = parse(((n.status || {}).allocatable || {})[res]);
        return { label: n.metadata.name, value: m && alloc ? Math.round(100 * parse((m.usage || {})[res]) / alloc) : 0 };
      });
      useCharts.replaceChildren(barChart('CPU use, % of allocatable', pct('cpu', parseCPU)), barChart('Memory use, % of allocatable', pct('memory', parseMem)));
      tick++;
      redraw();
      return true;
    });
    const startBox = el('div', { class: 'charts', id: 'pod-start' }, el('p', { class: 'mut', text: 'Waiting for the nodes…' }));
    main.append(section('Pod start latency (kubelet_pod_start_duration_seconds)', startBox));
    let scraped = 0;
    poll(sig, 1000, async () => { // every 10 s once there are nodes
      const names = Array.from(nodeStore.values()).map((n) => n.metadata.name).sort();
      if (!names.length && nodesErr) {
        startBox.replaceChildren(el('p', { class: 'mut', text: 'No node metrics: ' + nodesErr.message }));
        return nodesErr.status !== 403;
      }
      if (!names.length || Date.now() - scraped < 10000) return true;
      scraped = Date.now();
      const h = await podStartHistogram(names.slice(0, MAX_SCRAPE), startBox);
      if (h === false) return false;
      if (!h) return true;
      const more = names.length > MAX_SCRAPE ? ', ' + MAX_SCRAPE + ' of ' + names.length + ' nodes' : '';
      startBox.replaceChildren(barChart('Pod start, agent first seeing the pod to Running (' + h.count + ' pods, mean ' + (h.count ? (h.sum / h.count).toFixed(2) : '0') + ' s' + more + ')', h.bars));
      return true;
    });
    watchList(coll('pods', currentNS()), sig, (s) => {
      const pods = Array.from(s.values());
      podsByNode.clear();
      const phases = { Pending: 0, Running: 0, Succeeded: 0, Failed: 0 };
      const lat = [];
      for (const p of pods) {
        const st = p.status || {};
        if (p.spec.nodeName) podsByNode.set(p.spec.nodeName, (podsByNode.get(p.spec.nodeName) || 0) + 1);
        phases[st.phase || 'Pending'] = (phases[st.phase || 'Pending'] || 0) + 1;
        const rc = (st.conditions || []).find((c) => c.type === 'Ready' && c.status === 'True');
        if (rc && rc.lastTransitionTime) lat.push((Date.parse(rc.lastTransitionTime) - Date.parse(p.metadata.creationTimestamp)) / 1000);
      }
      const bounds = [1, 2, 5, 10, 30, 60, Infinity];
      const hist = bounds.map((b, i) => ({ label: (b === Infinity ? '>' + bounds[i - 1] : '≤' + b) + 's', value: lat.filter((x) => x <= b && (i === 0 || x > bounds[i - 1])).length }));
      const nodeUse = Array.from(nodeStore.values()).sort(byName).map((n) => ({ label: n.metadata.name, value: podsByNode.get(n.metadata.name) || 0 }));
      charts.replaceChildren(
        barChart('Pods by phase', Object.keys(phases).map((k) => ({ label: k, value: phases[k] }))),
        barChart('Pod start to Ready (' + lat.length + ' pods)', hist),
        barChart('Pods per node', nodeUse));
      tick++; // the nodes' pod counts changed without their objects
      redraw();
    }, showErr(pe));
  }

  // The pod-start histogram reads at most this many nodes' /metrics.
  const MAX_SCRAPE = 50;
  // podStartHistogram scrapes the nodes' agents through the API's node
  // proxy (GET /api/v1/nodes/NAME/proxy/metrics, RBAC's nodes/proxy, as
  // Prometheus scrapes kubelets through kube-apiserver) and adds their
  // kubelet_pod_start_duration_seconds histograms. It answers the bars
  // (each bucket's own count, not the cumulative one, up to 10 s and then
  // up to the last bucket holding a pod), the count and the sum; null when
  // no node answered (the reason shown in box), false on 403 (no access:
  // stop asking).
  async function podStartHistogram(names, box) {
    const cum = new Map(); // le -> cumulative count, summed over nodes
    let count = 0, sum = 0, ok = 0, lastErr = null;
    await Promise.all(names.map(async (n) => {
      let text;
      try { text = await apiText('/api/v1/nodes/' + enc(n) + '/proxy/metrics'); } catch (e) { lastErr = e; return; }
      ok++;
      for (const line of text.split('\n')) {
        if (!line.startsWith('kubelet_pod_start_duration_seconds')) continue;
        const m = /^kubelet_pod_start_duration_seconds_(bucket|count|sum)(?:\{(.*)\})?\s+(\S+)/.exec(line);
        if (!m) continue;
        const v = parseFloat(m[3]);
        if (m[1] === 'count') count += v;
        else if (m[1] === 'sum') sum += v;
        else {
          const le = /(?:^|,)le="([^"]*)"/.exec(m[2] || '');
          if (le) { const b = le[1] === '+Inf' ? Infinity : parseFloat(le[1]); cum.set(b, (cum.get(b) || 0) + v); }
        }
      }
    }));
    if (!ok) {
      box.replaceChildren(el('p', { class: 'mut', text: 'No node metrics: ' + (lastErr ? lastErr.message : 'no nodes') }));
      return lastErr && lastErr.status === 403 ? false : null;
    }
    const les = Array.from(cum.keys()).sort((a, b) => a - b);
    const bars = [];
    let prev = 0, last = 0;
    les.forEach((le, i) => {
      const c = cum.get(le);
      bars.push({ label: le === Infinity ? '>' + les[i - 1] + 's' : '≤' + le + 's', value: c - prev, le: String(le === Infinity ? '+Inf' : le) });
      if (c - prev > 0) last = i;
      prev = c;
    });
    const upTo = Math.max(last, les.findIndex((le) => le >= 10));
    return { bars: bars.slice(0, upTo + 1), count: count, sum: sum };
  }
  async function apiText(path) {
    const r = await fetch(path, { headers: headers({ Accept: 'text/plain' }), cache: 'no-store', credentials: 'omit' });
    const text = await r.text();
    if (r.status === 401) logout('The API server refused the token (401 Unauthorized).');
    if (!r.ok) {
      let msg = text || r.statusText;
      try { msg = JSON.parse(text).message || msg; } catch (e) { /* text */ }
      throw new APIError(r.status, msg);
    }
    return text;
  }

  // barChart: an SVG bar chart of [{label, value}]; each bar carries its
  // label and value as data-label and data-value.
  function barChart(title, data) {
    const W = 320, H = 150, pad = 22;
    const max = Math.max(1, ...data.map((d) => d.value));
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title });
    const bw = (W - pad) / Math.max(1, data.length);
    data.forEach((d, i) => {
      const h = Math.round((H - 2 * pad) * d.value / max);
      const x = pad / 2 + i * bw;
      s.append(svg('rect', { class: 'bar', x: x + 3, y: H - pad - h, width: Math.max(2, bw - 6), height: h, 'data-label': d.label, 'data-value': d.value }));
      s.append(svg('text', { x: x + bw / 2, y: H - pad - h - 3, 'text-anchor': 'middle' }, d.value));
      s.append(svg('text', { x: x + bw / 2, y: H - 8, 'text-anchor': 'middle' }, d.label.length > 14 ? d.label.slice(0, 13) + '…' : d.label));
    });
    return el('div', { class: 'chart' }, el('h3', { text: title }), s);
  }

  // Resource quantities: CPU in cores, memory in bytes.
  function parseCPU(q) {
    const m = /^([0-9.]+)([numkMG]?)$/.exec(q || '');
    return m ? parseFloat(m[1]) * { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9 }[m[2]] : 0;
  }
  function parseMem(q) {
    const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T|)$/.exec(q || '');
    return m ? parseFloat(m[1]) * { Ki: 1024, Mi: 1048576, Gi: 1073741824, Ti: 1099511627776, k: 1e3, M: 1e6, G: 1e9, T: 1e12, '': 1 }[m[2]] : 0;
  }
  const fmtCPU = (c) => Math.round(c * 1000) + 'm';
  const fmtMem = (b) => (b >= 1073741824 ? (b / 1073741824).toFixed(1) + 'Gi' : Math.round(b / 1048576) + 'Mi');
  // sleepFor waits ms, or less when sig aborts.
  function sleepFor(ms, sig) {
    return new Promise((res) => {
      const t = setTimeout(res, ms);
      sig.addEventListener('abort', () => { clearTimeout(t); res(); }, { once: true });
    });
  }
  // poll calls fn now and every ms until sig aborts or fn returns false.
  async function poll(sig, ms, fn) {
    while (!sig.aborted) {
      if ((await fn()) === false) return;
      await sleepFor(ms, sig);
    }
  }
  // lineChart: an SVG line of [time ms, value] points.
  function lineChart(title, pts, fmt) {
    const W = 320, H = 150, L = 44, B = 20, T = 10;
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title });
    const t0 = pts.length ? pts[0][0] : 0, t1 = pts.length ? Math.max(pts[pts.length - 1][0], t0 + 60000) : 1;
    const max = Math.max(1e-9, ...pts.map((p) => p[1])) * 1.15;
    const x = (t) => L + (W - L - 4) * (t - t0) / (t1 - t0), y = (v) => H - B - (H - B - T) * v / max;
    s.append(svg('line', { x1: L, y1: H - B, x2: W - 4, y2: H - B, stroke: '#b8bfcc' }), svg('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#b8bfcc' }));
    s.append(svg('text', { x: L - 4, y: T + 8, 'text-anchor': 'end' }, fmt(max)), svg('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, '0'));
    s.append(svg('text', { x: L, y: H - 5 }, pts.length ? new Date(t0).toLocaleTimeString() : ''), svg('text', { x: W - 4, y: H - 5, 'text-anchor': 'end' }, pts.length ? new Date(pts[pts.length - 1][0]).toLocaleTimeString() : ''));
    if (pts.length === 1) s.append(svg('circle', { class: 'pt', cx: x(pts[0][0]), cy: y(pts[0][1]), r: 3 }));
    else if (pts.length > 1) s.append(svg('polyline', { class: 'line', fill: 'none', points: pts.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ') }));
    const last = pts.length ? fmt(pts[pts.length - 1][1]) : 'no samples yet';
    return el('div', { class: 'chart' }, el('h3', { text: title + ': ' + last }), s);
  }
  // usage keeps each pod's samples for an hour: first the server's
  // history (one a minute, ui/history.go), then the metrics API's live
  // figures (the API serves only the latest window).
  const usage = new Map();
  function usageSection(sig, ns, name) {
    const box = el('div', { class: 'charts', id: 'usage' }, el('p', { class: 'mut', text: 'Waiting for the metrics API…' }));
    const k = ns + '/' + name;
    let seeded = false;
    poll(sig, 10000, async () => {
      if (!seeded) {
        seeded = true;
        try {
          const h = await api('GET', '/ui/api/v1/namespaces/' + enc(ns) + '/pods/' + enc(name) + '/metrics-history');
          const have = usage.get(k) || [];
          const seen = new Set(have.map((p) => p.t));
          for (const x of (h && h.samples) || []) {
            const t = Date.parse(x.timestamp);
            if (t && !seen.has(t)) have.push({ t: t, cpu: x.cpuMillicores / 1000, mem: x.memoryBytes, hist: true });
          }
          have.sort((a, b) => a.t - b.t);
          usage.set(k, have);
          if (have.length) box.replaceChildren(lineChart('CPU', have.map((p) => [p.t, p.cpu]), fmtCPU), lineChart('Memory', have.map((p) => [p.t, p.mem]), fmtMem));
        } catch (e) { /* no history: live samples only */ }
      }
      let m;
      try {
        m = await api('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/' + enc(ns) + '/pods/' + enc(name));
      } catch (e) {
        if (e.status !== 404 || !(usage.get(k) || []).length) box.replaceChildren(el('p', { class: 'mut', text: 'No metrics: ' + e.message }));
        return e.status !== 403;
      }
      let cpu = 0, mem = 0;
      for (const c of m.containers || []) { cpu += parseCPU((c.usage || {}).cpu); mem += parseMem((c.usage || {}).memory); }
      const ss = usage.get(k) || [];
      const t = Date.parse(m.timestamp) || Date.now();
      if (!ss.length || ss[ss.length - 1].t !== t) ss.push({ t: t, cpu: cpu, mem: mem });
      while (ss.length && ss[0].t < Date.now() - 3600000) ss.shift();
      usage.set(k, ss);
      box.replaceChildren(lineChart('CPU', ss.map((p) => [p.t, p.cpu]), fmtCPU), lineChart('Memory', ss.map((p) => [p.t, p.mem]), fmtMem));
      return true;
    });
    return box;
  }

  function deployRollout(d) {
    const st = d.status || {};
    const want = d.spec.replicas != null ? d.spec.replicas : 1;
    const prog = (st.conditions || []).find((c) => c.type === 'Progressing');
    if (prog && prog.reason === 'ProgressDeadlineExceeded') return 'stalled';
    if ((st.observedGeneration || 0) < d.metadata.generation) return 'waiting for spec update';
    if ((st.updatedReplicas || 0) < want) return (st.updatedReplicas || 0) + ' of ' + want + ' updated';
    if ((st.replicas || 0) > (st.updatedReplicas || 0)) return ((st.replicas || 0) - (st.updatedReplicas || 0)) + ' old pending termination';
    if ((st.availableReplicas || 0) < (st.updatedReplicas || 0)) return (st.availableReplicas || 0) + ' of ' + (st.updatedReplicas || 0) + ' available';
    return 'complete';
  }
  function dsRollout(d) {
    const st = d.status || {};
    if ((st.observedGeneration || 0) < d.metadata.generation) return 'waiting for spec update';
    if ((st.updatedNumberScheduled || 0) < (st.desiredNumberScheduled || 0)) return (st.updatedNumberScheduled || 0) + ' of ' + st.desiredNumberScheduled + ' updated';
    if ((st.numberAvailable || 0) < (st.desiredNumberScheduled || 0)) return (st.numberAvailable || 0) + ' of ' + st.desiredNumberScheduled + ' available';
    return 'complete';
  }
  function jobState(j) {
    const c = ((j.status || {}).conditions || []).find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
    return c ? c.type : (j.spec.suspend ? 'Suspended' : 'Running');
  }
  function viewWorkloads(sig) {
    const ns = currentNS();
    const name = { t: 'Name', f: (o) => o.metadata.name };
    const a = (o) => age(o.metadata.creationTimestamp);
    const tables = [
      ['deployments', 'Deployments', [name].concat(nsCol(ns), [
        { t: 'Ready', f: (d) => ((d.status || {}).readyReplicas || 0) + '/' + (d.spec.replicas != null ? d.spec.replicas : 1) },
        { t: 'Up-to-date', opt: true, f: (d) => (d.status || {}).updatedReplicas || 0 },
        { t: 'Available', opt: true, f: (d) => (d.status || {}).availableReplicas || 0 },
        { t: 'Rollout', f: (d) => statusSpan(deployRollout(d)) },
        { t: 'Age', f: a }]),
      (o) => [['Scale', () => scaleObj('deployments', o)], ['Restart', () => restartObj('deployments', o)], ['Delete', () => delObj('deployments', o), 'danger']]],
      ['replicasets', 'ReplicaSets', [name].concat(nsCol(ns), [
        { t: 'Desired', f: (r) => (r.spec.replicas != null ? r.spec.replicas : 1) },
        { t: 'Current', f: (r) => (r.status || {}).replicas || 0 },
        { t: 'Ready', f: (r) => (r.status || {}).readyReplicas || 0 },
        { t: 'Owner', opt: true, f: (r) => ((r.metadata.ownerReferences || [])[0] || {}).name || '' },
        { t: 'Age', f: a }]),
      (o) => [['Scale', () => scaleObj('replicasets', o)], ['Delete', () => delObj('replicasets', o), 'danger']]],
      ['daemonsets', 'DaemonSets', [name].concat(nsCol(ns), [
        { t: 'Desired', f: (d) => (d.status || {}).desiredNumberScheduled || 0 },
        { t: 'Ready', f: (d) => (d.status || {}).numberReady || 0 },
        { t: 'Rollout', f: (d) => statusSpan(dsRollout(d)) },
        { t: 'Age', f: a }]),
      (o) => [['Restart', () => restartObj('daemonsets', o)], ['Delete', () => delObj('daemonsets', o), 'danger']]],
      ['jobs', 'Jobs', [name].concat(nsCol(ns), [
        { t: 'Completions', f: (j) => ((j.status || {}).succeeded || 0) + '/' + (j.spec.completions != null ? j.spec.completions : 1) },
        { t: 'Active', f: (j) => (j.status || {}).active || 0 },
        { t: 'Failed', opt: true, f: (j) => (j.status || {}).failed || 0 },
        { t: 'Status', f: (j) => statusSpan(jobState(j)) },
        { t: 'Age', f: a }]),
      (o) => [['Delete', () => delObj('jobs', o), 'danger']]],
    ];
    main.append(el('h1', { text: 'Workloads' + (ns ? ' in ' + ns : ' in all namespaces') }));
    for (const [kind, title, cols, acts] of tables) {
      const t = liveTable(kind, cols, acts);
      const eb = errBox();
      main.append(section(title, [eb, t.el]));
      watchList(coll(kind, ns), sig, (s) => t.update(Array.from(s.values()).sort(byName)), showErr(eb));
    }
  }

  function viewServices(sig) {
    const ns = currentNS();
    let eps = new Map();
    let svcs = new Map();
    const t = liveTable('services', [{ t: 'Name', f: (s) => s.metadata.name }].concat(nsCol(ns), [
      { t: 'Type', f: (s) => s.spec.type || 'ClusterIP' },
      { t: 'Cluster-IP', f: (s) => s.spec.clusterIP || '' },
      { t: 'Ports', wrap: true, f: (s) => (s.spec.ports || []).map((p) => (p.name ? p.name + ':' : '') + p.port + (p.nodePort ? ':' + p.nodePort : '') + '/' + (p.protocol || 'TCP')).join(', ') },
      { t: 'Endpoints', wrap: true, f: (s) => {
        const e = eps.get(key(s));
        const list = [];
        for (const ss of (e && e.subsets) || []) for (const ad of ss.addresses || []) for (const p of ss.ports || [{}]) list.push(ad.ip + (p.port ? ':' + p.port : ''));
        return list.length ? list.map((x) => el('span', { class: 'chip', text: x })) : el('span', { class: 'mut', text: '<none>' });
      } },
      { t: 'Selector', opt: true, wrap: true, f: (s) => labelChips(s.spec.selector) },
      { t: 'Age', f: (s) => age(s.metadata.creationTimestamp) }]),
    (o) => [['Delete', () => delObj('services', o), 'danger']]);
    const eb = errBox();
    main.append(el('h1', { text: 'Services' + (ns ? ' in ' + ns : ' in all namespaces') }), section('Services', [eb, t.el]));
    const redraw = () => { tick++; t.update(Array.from(svcs.values()).sort(byName)); };
    svcs = watchList(coll('services', ns), sig, redraw, showErr(eb));
    eps = watchList(coll('endpoints', ns), sig, redraw, showErr(eb));
  }

  function evTime(e) { return e.lastTimestamp || e.eventTime || (e.series && e.series.lastObservedTime) || e.metadata.creationTimestamp; }
  function eventsTable(id, withObject) {
    return liveTable(id, [
      { t: 'Last seen', cls: 'c-age', f: (e) => age(evTime(e)) },
      { t: 'Type', f: (e) => statusSpan(e.type || '') },
      { t: 'Reason', f: (e) => e.reason || '' },
    ].concat(withObject ? [{ t: 'Object', f: (e) => {
      const io = e.involvedObject || {};
      const label = (io.kind || '').toLowerCase() + '/' + (io.name || '');
      return io.kind === 'Pod' ? link(podHref(io.namespace || e.metadata.namespace, io.name), label) : label;
    } }] : []).concat([
      { t: 'Message', wrap: true, f: (e) => e.message || '' },
      { t: 'Count', opt: true, f: (e) => e.count || (e.series && e.series.count) || 1 }]));
  }
  const byTimeDesc = (a, b) => Date.parse(evTime(b)) - Date.parse(evTime(a));
  function viewEvents(sig) {
    const ns = currentNS();
    const t = eventsTable('events', true);
    const eb = errBox();
    main.append(el('h1', { text: 'Events' + (ns ? ' in ' + ns : ' in all namespaces') }), section('Events', [eb, t.el]));
    watchList(coll('events', ns), sig, (s) => t.update(Array.from(s.values()).sort(byTimeDesc).slice(0, 500)), showErr(eb));
  }

  // ---- pod page -------------------------------------------------------------
  function viewPod(sig, ns, name) {
    let pod = null;
    const head = el('dl', { class: 'kv' });
    const eb = errBox();
    const tabsEl = el('div', { class: 'tabs' });
    const body = el('div', { id: 'pod-tab' });
    let tabCtl = null;
    const tabs = { Logs: tabLogs, Events: tabEvents, YAML: tabYAML, Terminal: tabTerminal };
    // Delete is enabled once the pod is loaded (a click before did nothing).
    const delBtn = el('button', { type: 'button', class: 'danger', id: 'pod-delete', text: 'Delete', disabled: true, onclick: () => pod && delObj('pods', pod) });
    main.append(el('h1', { id: 'pod-title', text: 'Pod ' + ns + '/' + name }),
      section('Pod', [eb, head, el('div', { class: 'toolbar' }, delBtn)]),
      section('Usage (metrics.k8s.io, last hour)', usageSection(sig, ns, name)),
      tabsEl, body);
    const show = (tname) => {
      if (tabCtl) tabCtl.abort();
      tabCtl = new AbortController();
      sig.addEventListener('abort', () => tabCtl.abort());
      for (const b of tabsEl.children) b.classList.toggle('active', b.textContent === tname);
      body.replaceChildren();
      tabs[tname](tabCtl.signal);
    };
    for (const tname of Object.keys(tabs)) tabsEl.append(el('button', { type: 'button', id: 'tab-' + tname.toLowerCase(), text: tname, onclick: () => show(tname) }));
    const containers = () => (pod ? pod.spec.containers.map((c) => c.name) : []);
    let first = true;
    watchList(coll('pods', ns, 'fieldSelector=' + enc('metadata.name=' + name)), sig, (s) => {
      pod = s.get(ns + '/' + name) || null;
      delBtn.disabled = !pod;
      if (!pod) { head.replaceChildren(el('dt', { text: 'State' }), el('dd', { class: 'err', text: 'not found (deleted?)' })); return; }
      const st = pod.status || {};
      const rows = [['Status', statusSpan(podStatus(pod))], ['Ready', podReady(pod)], ['Restarts', String(restarts(pod))],
        ['Node', pod.spec.nodeName || ''], ['IP', st.podIP || ''], ['Age', age(pod.metadata.creationTimestamp)],
        ['Containers', containers().join(', ')], ['Labels', labelChips(pod.metadata.labels)]];
      head.replaceChildren(...rows.flatMap((r) => [el('dt', { text: r[0] }), el('dd', { class: 'f-' + r[0].toLowerCase() }, r[1])]));
      if (first) { first = false; show('Logs'); }
    }, showErr(eb));

    function containerSelect() {
      return el('select', { id: 'container' }, containers().map((c) => el('option', { value: c, text: c })));
    }
    function tabLogs(tsig) {
      const sel = containerSelect();
      const follow = el('input', { type: 'checkbox', id: 'follow', checked: true });
      const prev = el('input', { type: 'checkbox', id: 'previous' });
      const pre = el('pre', { class: 'logs', id: 'logs' });
      const state = el('span', { class: 'mut', id: 'logs-state' });
      let ctl = null;
      const start = async () => {
        if (ctl) ctl.abort();
        ctl = new AbortController();
        tsig.addEventListener('abort', () => ctl.abort());
        pre.replaceChildren();
        const q = 'container=' + enc(sel.value) + '&tailLines=1000' + (follow.checked ? '&follow=true' : '') + (prev.checked ? '&previous=true' : '');
        state.textContent = follow.checked ? 'following…' : '';
        try {
          const resp = await fetch(objPath('pods', ns, name) + '/log?' + q, { headers: headers({ Accept: '*/*' }), signal: ctl.signal, cache: 'no-store', credentials: 'omit' });
          if (resp.status === 401) { logout('The API server refused the token (401 Unauthorized).'); return; }
          if (!resp.ok) { const t = await resp.text(); let m = t; try { m = JSON.parse(t).message; } catch (e) { /* text */ } throw new Error(m); }
          await readLines(resp, null, (chunk) => {
            const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
            pre.append(document.createTextNode(chunk));
            while (pre.childNodes.length > 5000) pre.firstChild.remove();
            if (atEnd) pre.scrollTop = pre.scrollHeight;
          });
          state.textContent = 'end of log';
        } catch (e) {
          if (!ctl.signal.aborted) { state.textContent = e.message; state.className = 'err'; }
        }
      };
      for (const x of [sel, follow, prev]) x.addEventListener('change', start);
      body.append(el('div', { class: 'toolbar' }, el('label', null, 'Container ', sel),
        el('label', null, follow, ' follow'), el('label', null, prev, ' previous instance'), state), pre);
      start();
    }
    function tabEvents(tsig) {
      const t = eventsTable('pod-events', false);
      const e2 = errBox();
      body.append(e2, t.el);
      watchList(coll('events', ns, 'fieldSelector=' + enc('involvedObject.name=' + name)), tsig,
        (s) => t.update(Array.from(s.values()).filter((e) => (e.involvedObject || {}).kind === 'Pod').sort(byTimeDesc)), showErr(e2));
    }
    async function tabYAML() {
      const pre = el('pre', { class: 'yaml', id: 'yaml' });
      const mf = el('input', { type: 'checkbox', id: 'managed' });
      const draw = async () => {
        try {
          const o = await api('GET', objPath('pods', ns, name));
          if (!mf.checked) delete o.metadata.managedFields;
          pre.textContent = toYAML(o, '').join('\n') + '\n';
        } catch (e) { pre.textContent = e.message; }
      };
      mf.addEventListener('change', draw);
      body.append(el('div', { class: 'toolbar' }, el('label', null, mf, ' show managedFields'),
        el('button', { type: 'button', text: 'Reload', onclick: draw })), pre);
      draw();
    }
    function tabTerminal(tsig) {
      const sel = containerSelect();
      const cmd = el('input', { id: 'term-cmd', value: 'sh', spellcheck: 'false' });
      const screen = el('div', { class: 'term', id: 'term', tabindex: '0', role: 'log', 'aria-label': 'terminal' });
      const line = el('input', { id: 'term-input', placeholder: 'type a line, Enter sends it', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off' });
      const state = el('span', { class: 'mut', id: 'term-state' });
      let term = null;
      const connect = () => {
        if (term) term.close();
        term = new Terminal(screen, state);
        term.open(ns, name, sel.value, cmd.value.trim().split(/\s+/).filter(Boolean));
      };
      tsig.addEventListener('abort', () => term && term.close());
      line.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && term) { term.send(line.value + '\r'); line.value = ''; e.preventDefault(); }
      });
      screen.addEventListener('keydown', (e) => { if (term && term.key(e)) e.preventDefault(); });
      screen.addEventListener('paste', (e) => {
        if (!term) return;
        term.send(e.clipboardData.getData('text').replace(/\r?\n/g, '\r'));
        e.preventDefault();
      });
      body.append(el('div', { class: 'toolbar' }, el('label', null, 'Container ', sel), el('label', null, 'Command ', cmd),
        el('button', { type: 'button', id: 'term-connect', class: 'primary', text: 'Connect', onclick: connect }), state),
      screen, el('div', { class: 'term-line' }, line));
    }
  }

  // Terminal: a VT terminal (vt.js: WasmpodVT.Screen, drawn by its View)
  // over the exec WebSocket (v5/v4 channel.k8s.io; the token rides in the
  // bearer subprotocol, as browsers cannot set Authorization). Channel 1
  // and 2 bytes go to the screen, each channel with its own UTF-8 stream
  // (a character split across frames is drawn once); keys go out on
  // channel 0 as a terminal sends them (arrows as CSI, or SS3 in
  // application cursor mode; Ctrl-letter as its control byte); the
  // screen's size goes out on channel 4 ({"Width","Height"}) on connect
  // and whenever the element's size changes.
  class Terminal {
    constructor(screen, state) {
      this.screen = screen; this.state = state; this.ws = null;
      this.enc = new TextEncoder();
      this.decs = { 1: new TextDecoder(), 2: new TextDecoder() };
      const sz = this.fit();
      this.vt = new WasmpodVT.Screen(sz.rows, sz.cols, {
        onReply: (r) => this.send(r),
        onScrollOut: (row) => this.view.scrolledOut(row),
      });
      this.view = new WasmpodVT.View(screen, this.vt);
      this.view.draw();
      screen.vt = this.vt; // for the tests and the console
      this.ro = new ResizeObserver(() => this.resize());
      this.ro.observe(screen);
    }
    // fit: the rows and columns that fill the element, from a probe's size.
    fit() {
      const probe = document.createElement('div');
      probe.className = 'vt-row vt-probe';
      probe.textContent = 'MMMMMMMMMM';
      this.screen.append(probe);
      const r = probe.getBoundingClientRect();
      probe.remove();
      const cs = getComputedStyle(this.screen);
      const w = this.screen.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 14; // 14: a scrollbar
      const h = this.screen.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
      return { cols: Math.max(20, Math.floor(w / ((r.width / 10) || 7.2))), rows: Math.max(5, Math.floor(h / (r.height || 16))) };
    }
    open(ns, name, container, command) {
      if (!command.length) { this.state.textContent = 'no command'; return; }
      const q = new URLSearchParams();
      for (const c of command) q.append('command', c);
      q.set('container', container);
      q.set('stdin', 'true'); q.set('stdout', 'true'); q.set('tty', 'true');
      const b64 = btoa(String.fromCharCode(...this.enc.encode(token))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + objPath('pods', ns, name) + '/exec?' + q.toString();
      const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'base64url.bearer.authorization.k8s.io.' + b64]);
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      this.state.textContent = 'connecting…';
      ws.onopen = () => {
        this.state.textContent = 'connected (' + ws.protocol + ')';
        this.sendSize();
        this.screen.focus();
      };
      ws.onmessage = (ev) => this.frameIn(new Uint8Array(ev.data));
      ws.onclose = (ev) => {
        if (!/exit|fail|command/.test(this.state.textContent)) this.state.textContent = 'closed' + (ev.code !== 1000 && ev.code !== 1005 ? ' (' + ev.code + ')' : '');
        this.ws = null;
      };
      ws.onerror = () => { this.state.textContent = 'connection failed (401/403? see the API server)'; };
    }
    // frameIn: one WebSocket message, its first byte the channel.
    frameIn(b) {
      if (!b.length) return;
      const ch = b[0];
      if (ch === 1 || ch === 2) {
        this.vt.write(this.decs[ch].decode(b.subarray(1), { stream: true }));
        this.view.schedule();
      } else if (ch === 3 && b.length > 1) {
        let msg = new TextDecoder().decode(b.subarray(1));
        try { const st = JSON.parse(msg); msg = st.status === 'Success' ? 'exited' : (st.message || 'failed'); } catch (e) { /* text */ }
        this.state.textContent = msg;
      }
    }
    resize() {
      if (!this.screen.isConnected || !this.screen.clientWidth) return; // not shown
      const sz = this.fit();
      if (sz.rows === this.vt.rows && sz.cols === this.vt.cols) return;
      this.vt.resize(sz.rows, sz.cols);
      this.view.draw();
      this.sendSize();
    }
    sendSize() { this.frame(4, this.enc.encode(JSON.stringify({ Width: this.vt.cols, Height: this.vt.rows }))); }
    frame(ch, data) {
      if (!this.ws || this.ws.readyState !== 1) return;
      const b = new Uint8Array(data.length + 1);
      b[0] = ch; b.set(data, 1);
      this.ws.send(b);
    }
    send(s) { this.frame(0, this.enc.encode(s)); }
    close() {
      this.ro.disconnect();
      if (this.ws) { this.frame(255, new Uint8Array([0])); this.ws.close(); }
    }
    key(e) {
      // Meta, and Ctrl+Shift (copy and paste in terminals), stay the browser's.
      if (e.metaKey || e.isComposing || (e.ctrlKey && e.shiftKey)) return false;
      const cur = this.vt.appCursor ? '\x1bO' : '\x1b[';
      const map = { Enter: '\r', Backspace: '\x7f', Tab: '\t', Escape: '\x1b', ArrowUp: cur + 'A', ArrowDown: cur + 'B', ArrowRight: cur + 'C', ArrowLeft: cur + 'D',
        Home: cur + 'H', End: cur + 'F', Delete: '\x1b[3~', Insert: '\x1b[2~', PageUp: '\x1b[5~', PageDown: '\x1b[6~' };
      let s = map[e.key];
      if (s && e.key === 'Tab' && e.shiftKey) s = '\x1b[Z';
      if (!s && e.ctrlKey && !e.altKey && e.key.length === 1 && /[a-z@\[\]\\^_ ]/i.test(e.key)) s = String.fromCharCode(e.key === ' ' ? 0 : e.key.toUpperCase().charCodeAt(0) & 31);
      // A character (one code point); Ctrl+Alt is AltGr on some layouts.
      else if (!s && [...e.key].length === 1 && (!e.ctrlKey || e.altKey)) s = e.key;
      if (!s) return false;
      this.send(s);
      return true;
    }
  }

  // ---- apply ----------------------------------------------------------------
  // docHead reads apiVersion, kind, metadata.name and metadata.namespace of
  // a YAML (or JSON) document: enough to find its path; the server parses
  // the document itself (application/apply-patch+yaml).
  function docHead(doc) {
    const t = doc.trim();
    if (t.startsWith('{')) {
      const o = JSON.parse(t);
      return { apiVersion: o.apiVersion, kind: o.kind, name: (o.metadata || {}).name, namespace: (o.metadata || {}).namespace };
    }
    const h = {};
    let inMeta = false, metaIndent = -1;
    for (const raw of t.split('\n')) {
      const line = raw.replace(/\s+#.*$/, '');
      const m = /^(\s*)([A-Za-z]+):\s*(.*?)\s*$/.exec(line);
      if (!m) continue;
      const ind = m[1].length;
      const val = m[3].replace(/^(["'])(.*)\1$/, '$2');
      if (ind === 0) {
        inMeta = m[2] === 'metadata';
        metaIndent = -1;
        if (m[2] === 'apiVersion' || m[2] === 'kind') h[m[2]] = val;
        continue;
      }
      if (inMeta) {
        if (metaIndent < 0) metaIndent = ind;
        if (ind === metaIndent && (m[2] === 'name' || m[2] === 'namespace')) h[m[2]] = val;
      }
    }
    return h;
  }
  const discovery = new Map();
  async function resourceFor(apiVersion, kind) {
    const base = apiVersion.includes('/') ? '/apis/' + apiVersion : '/api/' + apiVersion;
    if (!discovery.has(base)) discovery.set(base, await api('GET', base));
    const r = (discovery.get(base).resources || []).find((x) => x.kind === kind && !x.name.includes('/'));
    if (!r) throw new Error('the server has no ' + kind + ' in ' + apiVersion);
    return { base: base, res: r.name, namespaced: r.namespaced };
  }
  function viewApply() {
    const ta = el('textarea', { id: 'apply-text', spellcheck: 'false', placeholder: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: example\ndata:\n  key: value' });
    const force = el('input', { type: 'checkbox', id: 'apply-force' });
    const dry = el('input', { type: 'checkbox', id: 'apply-dry' });
    const out = el('ul', { id: 'apply-result' });
    const run = async () => {
      const docs = ta.value.split(/^---\s*$/m).filter((d) => d.replace(/#.*$/gm, '').trim());
      if (!docs.length) { flash('Apply: nothing to apply', true); return; }
      let heads;
      try { heads = docs.map(docHead); } catch (e) { flash('Apply: ' + e.message, true); return; }
      for (const [i, h] of heads.entries()) {
        if (!h.apiVersion || !h.kind || !h.name) { flash('Apply: document ' + (i + 1) + ' needs apiVersion, kind and metadata.name', true); return; }
      }
      const what = heads.map((h) => h.kind + ' ' + (h.namespace ? h.namespace + '/' : '') + h.name).join(', ');
      if ((await ask('Apply', 'Server-side apply ' + what + (dry.checked ? ' (dry run)' : '') + '?', undefined, 'Apply')) === null) return;
      out.replaceChildren();
      for (const [i, h] of heads.entries()) {
        let msg;
        try {
          const r = await resourceFor(h.apiVersion, h.kind);
          const ns = r.namespaced ? (h.namespace || currentNS() || 'default') : '';
          const path = r.base + (ns ? '/namespaces/' + enc(ns) : '') + '/' + r.res + '/' + enc(h.name) +
            '?fieldManager=wasmpod-ui' + (force.checked ? '&force=true' : '') + (dry.checked ? '&dryRun=All' : '');
          await api('PATCH', path, docs[i], 'application/apply-patch+yaml');
          msg = el('li', { class: 's-ok', text: h.kind.toLowerCase() + '/' + h.name + ' serverside-applied' + (dry.checked ? ' (dry run)' : '') });
        } catch (e) {
          msg = el('li', { class: 'err', text: h.kind.toLowerCase() + '/' + h.name + ': ' + e.message });
        }
        out.append(msg);
      }
    };
    main.append(el('h1', { text: 'Apply' }), section('Server-side apply (YAML or JSON; --- between documents)', [ta,
      el('div', { class: 'toolbar' }, el('label', null, force, ' force conflicts'), el('label', null, dry, ' dry run'),
        el('button', { type: 'button', class: 'primary', id: 'apply', text: 'Apply', onclick: run })), out]));
  }

  // ---- login and routing ----------------------------------------------------
  function viewLogin(msg) {
    const input = el('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'bearer token' });
    const err = el('p', { class: 'err', id: 'login-error', text: msg || '' });
    const form = el('form', { id: 'login-form' },
      el('h1', { text: 'Log in to wasmpod' }),
      el('p', { class: 'mut', text: 'Paste a bearer token: the admin token `wasmpod serve` writes into its kubeconfig, or a ServiceAccount token (kubectl create token NAME). The token stays in this tab (sessionStorage); every call goes through the API server\'s authentication and RBAC.' }),
      input, el('button', { type: 'submit', class: 'primary', id: 'login', text: 'Log in' }), err);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) { err.textContent = 'Enter a token.'; return; }
      const r = await fetch('/api', { headers: { Authorization: 'Bearer ' + t, Accept: 'application/json' }, cache: 'no-store', credentials: 'omit' });
      if (!r.ok) { err.textContent = r.status === 401 ? 'The API server refused this token (401).' : 'Login failed: HTTP ' + r.status; return; }
      token = t;
      sessionStorage.setItem(TOKEN_KEY, t);
      loadNamespaces();
      if (!location.hash || location.hash === '#/login') location.hash = '#/overview';
      else route();
    });
    main.replaceChildren(el('section', { class: 'card', id: 'login-box' }, form));
    input.focus();
  }
  function logout(msg) {
    token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    if (viewCtl) viewCtl.abort();
    document.getElementById('nav').hidden = true;
    document.getElementById('session').hidden = true;
    viewLogin(msg);
  }
  async function loadNamespaces() {
    try {
      const l = await api('GET', '/api/v1/namespaces');
      document.getElementById('nslist').replaceChildren(...l.items.map((n) => el('option', { value: n.metadata.name })));
    } catch (e) { /* a token without list on namespaces types the namespace */ }
  }
  const views = { overview: viewOverview, pods: viewPods, workloads: viewWorkloads, services: viewServices, events: viewEvents, apply: viewApply };
  function route() {
    if (viewCtl) viewCtl.abort();
    if (!token) { logout(); return; }
    document.getElementById('nav').hidden = false;
    document.getElementById('session').hidden = false;
    viewCtl = new AbortController();
    watchErrors = 0;
    setLive();
    main.replaceChildren();
    const h = location.hash.replace(/^#\/?/, '');
    const [path, query] = h.split('?');
    const qs = new URLSearchParams(query || '');
    if (qs.has('ns')) document.getElementById('ns').value = qs.get('ns');
    const parts = path.split('/').map(decodeURIComponent);
    const name = parts[0] || 'overview';
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === name || (name === 'pod' && a.dataset.view === 'pods'));
    if (name === 'pod' && parts.length === 3) viewPod(viewCtl.signal, parts[1], parts[2]);
    else (views[name] || viewOverview)(viewCtl.signal);
  }
  window.addEventListener('hashchange', route);
  document.getElementById('logout').addEventListener('click', () => logout(''));
  document.getElementById('ns').addEventListener('change', () => {
    const h = location.hash.replace(/\?.*$/, '') || '#/overview';
    const ns = currentNS();
    const next = h.startsWith('#/pod/') ? '#/pods' : h;
    location.hash = next + (ns ? '?ns=' + enc(ns) : '?ns=');
  });
  if (token) loadNamespaces();
  route();
})();
