// The hashforge node page: reads the JSON API and follows /api/events.
// Plain browser JavaScript, no dependencies. Every value from the node goes
// into the DOM through textContent or attributes, never as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const COIN = 100000000n; // units per coin
  const MAX_BLOCK_ROWS = 20;
  const CHART_WINDOW_MS = 15 * 60 * 1000;
  const STATUS_EVERY_MS = 5000;
  const PEERS_EVERY_MS = 10000;
  const STRATUM_EVERY_MS = 5000;
  const PALETTE = ['#e8833a', '#1fa187', '#b04fd0', '#d0393e', '#7a8b2e', '#2aa8d8', '#c9a227', '#8a6d5a'];

  // ---- state ----
  let status = null;         // last status (hello or GET /api/status), patched by tip events
  let tipEvents = 0;         // tip events seen; a status poll older than one keeps the event's tip
  let hellos = 0;            // hello events seen; a second one means a reconnect
  const samples = [];        // hashrate samples: {t: ms, total: number|null, dev: {id: number|null}}
  const deviceColors = new Map();
  let chartPending = false;

  // ---- formatting ----
  function fmtHashrate(v) {
    if (v == null || !Number.isFinite(v)) return '–';
    const units = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s', 'PH/s', 'EH/s'];
    let i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    const digits = v >= 100 || v === 0 ? 0 : v >= 10 ? 1 : 2;
    return v.toFixed(digits) + ' ' + units[i];
  }

  function toBig(u) {
    try {
      if (typeof u === 'bigint') return u;
      if (typeof u === 'number') return Number.isFinite(u) ? BigInt(Math.trunc(u)) : null;
      if (typeof u === 'string' && /^\d+$/.test(u)) return BigInt(u);
    } catch (_) { /* fall through */ }
    return null;
  }

  // Units (1 coin = 10^8 units) as coins: whole part grouped, fraction trimmed.
  // With fixed, all eight decimals stay, so that a column lines up.
  function fmtCoins(u, fixed) {
    const b = toBig(u);
    if (b == null) return '–';
    const whole = (b / COIN).toLocaleString('en-US');
    let frac = (b % COIN).toString().padStart(8, '0');
    if (!fixed) frac = frac.replace(/0+$/, '');
    return frac ? whole + '.' + frac : whole;
  }

  function fmtInt(n) { return n == null ? '–' : Number(n).toLocaleString('en-US'); }

  function fmtBytes(n) {
    if (n == null) return '–';
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1024 / 1024).toFixed(1) + ' MiB';
  }

  function fmtDifficulty(d) {
    if (d == null || !Number.isFinite(d)) return '–';
    if (d === 0) return '0';
    if (Math.abs(d) < 0.001 || Math.abs(d) >= 1e9) return d.toExponential(2);
    return d.toLocaleString('en-US', { maximumSignificantDigits: 5 });
  }

  function fmtDuration(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' m ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' m';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }

  function rowAge(unix) { return unix == null ? '–' : fmtDuration(Date.now() / 1000 - unix); }

  function ageOf(unix) { return unix == null ? '–' : fmtDuration(Date.now() / 1000 - unix) + ' ago'; }

  function short(s, head = 8, tail = 6) {
    if (typeof s !== 'string' || s === '') return '–';
    return s.length <= head + tail + 1 ? s : s.slice(0, head) + '…' + s.slice(-tail);
  }

  function fmtTime(unix) {
    if (unix == null) return '–';
    return new Date(unix * 1000).toLocaleString();
  }

  // ---- DOM helpers ----
  function setText(id, text) {
    const e = $(id);
    if (e) e.textContent = text;
  }

  function el(tag, opts, ...children) {
    const e = document.createElement(tag);
    if (opts) {
      if (opts.cls) e.className = opts.cls;
      if (opts.text != null) e.textContent = String(opts.text);
      if (opts.title) e.title = opts.title;
      if (opts.attrs) for (const [k, v] of Object.entries(opts.attrs)) e.setAttribute(k, String(v));
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  function td(text, cls, title) { return el('td', { text, cls, title }); }

  async function getJSON(path) {
    const r = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } });
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) {
      const msg = body && body.error ? body.error : r.status + ' ' + r.statusText;
      throw new Error(msg);
    }
    return body;
  }

  // ---- connection indicator ----
  function setConn(state) {
    const s = $('status');
    s.dataset.state = state;
    s.textContent = { live: 'live', connecting: 'connecting…', reconnecting: 'reconnecting…', offline: 'offline, retrying…' }[state] || state;
  }

  // ---- summary ----
  function renderChain() {
    if (!status) return;
    if (status.height != null) setText('height', String(status.height));
    setText('tip', short(status.tip, 10, 6));
    $('tip').title = status.tip || '';
    setText('difficulty', fmtDifficulty(status.difficulty));
    renderTipAge();
    document.title = (status.height != null ? '#' + status.height + ' · ' : '') + 'hashforge' + (status.network ? ' ' + status.network : '');
  }

  function renderTipAge() {
    if (status && status.tip_time != null) setText('tip-age', fmtDuration(Date.now() / 1000 - status.tip_time));
  }

  function renderHashrate(hr) {
    hr = hr || {};
    setText('hr-10s', fmtHashrate(hr['10s']));
    setText('hr-60s', fmtHashrate(hr['60s']));
    setText('hr-15m', fmtHashrate(hr['15m']));
  }

  function renderStatus(st, withChain) {
    status = Object.assign({}, status, withChain ? st : withoutChain(st));
    if (withChain) renderChain();
    setText('network', st.network || '–');
    setText('node-id', st.node_id || '–');
    setText('version', st.version || '–');
    const mining = $('mining');
    mining.textContent = st.mining ? 'on' : 'off';
    mining.classList.toggle('on', !!st.mining);
    setText('threads', st.threads != null ? st.threads + (st.threads === 1 ? ' CPU thread' : ' CPU threads') : '– CPU threads');
    renderHashrate(st.hashrate);
    setText('peers', fmtInt(st.peers));
    if (st.agreement == null) setText('agreement', st.peers ? 'pending' : '–');
    else setText('agreement', (st.peers_agreeing ?? '–') + '/' + (st.peers ?? '–') + ' (' + Math.round(st.agreement * 100) + '%)');
    const mp = st.mempool || {};
    setText('mempool', fmtInt(mp.count));
    setText('mempool-bytes', mp.bytes != null ? fmtBytes(mp.bytes) : '–');
    renderSync(st.sync);
    renderPool(st.pool);
  }

  // The pool the devices mine for (--pool); hidden when they mine for the chain.
  function renderPool(p) {
    $('pool-row').hidden = !p;
    if (!p) return;
    const state = p.connected ? 'connected' : 'connecting…';
    const rejected = Object.entries(p.rejected_by_reason || {}).map(([k, v]) => k + ': ' + v).join(', ');
    setText('pool', p.url + ' · ' + state + ' · difficulty ' + fmtDifficulty(p.difficulty) +
      ' · shares ' + fmtInt(p.shares_accepted) + ' accepted, ' + fmtInt(p.shares_rejected) + ' rejected, ' +
      fmtInt(p.shares_stale) + ' stale · ' + (p.latency_avg_ms ? p.latency_avg_ms.toFixed(1) + ' ms' : '– ms'));
    $('pool').title = rejected ? 'rejected: ' + rejected : '';
  }

  function withoutChain(st) {
    const o = Object.assign({}, st);
    for (const k of ['height', 'tip', 'tip_time', 'difficulty', 'work']) delete o[k];
    return o;
  }

  function renderSync(sync) {
    const box = $('sync-fill').parentElement.parentElement;
    if (!sync || !sync.syncing) {
      $('sync-fill').style.width = '100%';
      $('sync-bar').setAttribute('aria-valuenow', '100');
      box.classList.add('done');
      setText('sync-text', 'in sync');
      return;
    }
    const best = Math.max(sync.best_known || 0, sync.height || 0);
    const pct = best > 0 ? Math.min(100, (100 * (sync.height || 0)) / best) : 0;
    $('sync-fill').style.width = pct.toFixed(1) + '%';
    $('sync-bar').setAttribute('aria-valuenow', pct.toFixed(0));
    box.classList.remove('done');
    const rate = sync.blocks_per_second != null ? ' · ' + sync.blocks_per_second.toFixed(1) + ' blk/s' : '';
    setText('sync-text', fmtInt(sync.height) + ' / ' + fmtInt(best) + ' (' + pct.toFixed(1) + '%)' + rate);
  }

  async function refreshStatus() {
    const seen = tipEvents;
    try {
      const st = await getJSON('/api/status');
      // A tip event that arrived while the request was out is newer than it.
      renderStatus(st, seen === tipEvents);
    } catch (e) {
      console.warn('status:', e);
    }
  }

  // ---- latest blocks ----
  function blockRow(b) {
    const tr = el('tr', { attrs: { 'data-height': b.height, 'data-hash': b.hash, tabindex: 0 } });
    const age = td(rowAge(b.time), null, fmtTime(b.time));
    age.dataset.time = b.time;
    age.className = 'age';
    tr.append(
      td(String(b.height), 'num'),
      td(short(b.hash, 8, 6), 'mono', b.hash),
      age,
      td(fmtInt(b.tx_count), 'num hide-sm'),
      td(short(b.miner, 8, 4), 'mono hide-sm', b.miner),
      td(fmtCoins(b.reward, true), 'num'),
    );
    return tr;
  }

  // insertBlock puts b into the table in height order, replacing a row at its
  // height. A new tip also drops rows above it (they left the main chain).
  function insertBlock(b, isTip) {
    const body = $('blocks');
    let staleBelow = false;
    for (const tr of Array.from(body.rows)) {
      const h = Number(tr.dataset.height);
      if (h === b.height || (isTip && h > b.height)) tr.remove();
      else if (isTip && h === b.height - 1 && b.prev && tr.dataset.hash !== b.prev) staleBelow = true;
    }
    const row = blockRow(b);
    if (isTip) row.classList.add('new');
    const after = Array.from(body.rows).find((tr) => Number(tr.dataset.height) < b.height);
    body.insertBefore(row, after || null);
    while (body.rows.length > MAX_BLOCK_ROWS) body.deleteRow(body.rows.length - 1);
    if (staleBelow) scheduleBlocksReload(); // a reorg replaced more than the tip
  }

  let blocksReload = null;
  function scheduleBlocksReload() {
    if (blocksReload) return;
    blocksReload = setTimeout(() => { blocksReload = null; loadBlocks(); }, 300);
  }

  async function loadBlocks() {
    try {
      const res = await getJSON('/api/blocks?limit=20');
      const list = (res && res.blocks) || [];
      const body = $('blocks');
      // Keep rows newer than the list (tip events while it loaded).
      const top = list.length ? list[0].height : -1;
      for (const tr of Array.from(body.rows)) if (Number(tr.dataset.height) <= top) tr.remove();
      for (const b of list) insertBlock(b, false);
    } catch (e) {
      console.warn('blocks:', e);
    }
  }

  function onTip(b) {
    tipEvents++;
    status = Object.assign({}, status, { height: b.height, tip: b.hash, tip_time: b.time, difficulty: b.difficulty });
    renderChain();
    insertBlock(b, true);
  }

  // ---- block view ----
  const dialog = $('block-view');
  let viewing = null;

  function field(dl, name, value, title, mono) {
    dl.append(el('dt', { text: name }), el('dd', { text: value, title, cls: mono ? 'mono' : null }));
  }

  async function openBlock(id) {
    viewing = id;
    setText('bv-title', 'Block ' + short(id, 10, 6));
    $('bv-fields').replaceChildren(el('dt', { text: 'Loading…' }));
    $('bv-txs').replaceChildren();
    $('bv-error').hidden = true;
    if (!dialog.open) {
      if (typeof dialog.showModal === 'function') dialog.showModal();
      else dialog.setAttribute('open', '');
    }
    try {
      const b = await getJSON('/api/blocks/' + encodeURIComponent(id));
      if (viewing !== id) return;
      renderBlock(b);
    } catch (e) {
      if (viewing !== id) return;
      $('bv-fields').replaceChildren();
      $('bv-error').textContent = 'Could not load the block: ' + e.message;
      $('bv-error').hidden = false;
    }
  }

  function renderBlock(b) {
    setText('bv-title', 'Block #' + b.height);
    const dl = $('bv-fields');
    dl.replaceChildren();
    field(dl, 'Hash', b.hash, null, true);
    field(dl, 'Previous', b.prev, null, true);
    field(dl, 'Time', fmtTime(b.time) + ' (' + ageOf(b.time) + ')');
    field(dl, 'Main chain', b.main ? 'yes · ' + fmtInt(b.confirmations) + (b.confirmations === 1 ? ' confirmation' : ' confirmations') : 'no (side branch)');
    field(dl, 'Miner', b.miner || '–', null, true);
    field(dl, 'Reward', fmtCoins(b.reward) + ' coins');
    field(dl, 'Difficulty', fmtDifficulty(b.difficulty) + (b.bits ? ' (bits ' + b.bits + ')' : ''));
    field(dl, 'Nonce', String(b.nonce ?? '–'));
    field(dl, 'Size', b.size != null ? fmtBytes(b.size) : '–');
    field(dl, 'Merkle root', b.merkle_root || '–', null, true);
    field(dl, 'Version', String(b.version ?? '–'));
    const rows = (b.txs || []).map((tx) => {
      const tr = el('tr', { attrs: { 'data-txid': tx.txid || '', 'data-kind': tx.kind || '' } });
      const from = tx.kind === 'coinbase' ? 'coinbase' : short(tx.sender || tx.from, 8, 4);
      let memo = '';
      if (tx.memo != null) memo = tx.memo;
      else if (tx.memo_hex) memo = '0x' + tx.memo_hex;
      tr.append(
        td(short(tx.txid, 8, 6), 'mono', tx.txid),
        td(tx.kind || '–'),
        td(from, 'mono', tx.sender || tx.from || ''),
        td(short(tx.to, 8, 4), 'mono', tx.to),
        td(fmtCoins(tx.amount, true), 'num'),
        td(tx.fee != null ? fmtCoins(tx.fee, true) : '–', 'num'),
        td(memo, 'memo'),
      );
      return tr;
    });
    $('bv-txs').replaceChildren(...rows);
  }

  $('blocks').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-hash]');
    if (tr) openBlock(tr.dataset.hash);
  });
  $('blocks').addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    const tr = ev.target.closest('tr[data-hash]');
    if (tr) { ev.preventDefault(); openBlock(tr.dataset.hash); }
  });
  $('bv-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('click', (ev) => { if (ev.target === dialog) dialog.close(); }); // the backdrop
  dialog.addEventListener('close', () => { viewing = null; });

  // ---- peers ----
  async function loadPeers() {
    try {
      const peers = (await getJSON('/api/peers')) || [];
      peers.sort((a, b) => String(a.addr).localeCompare(String(b.addr)));
      const rows = peers.map((p) => {
        const seen = p.last_seen ? Date.parse(p.last_seen) : NaN;
        const tr = el('tr', { attrs: { 'data-addr': p.addr } });
        tr.append(
          td(p.addr, 'mono'),
          td(p.direction === 'inbound' ? 'in' : p.direction === 'outbound' ? 'out' : (p.direction || '–'),
            p.direction === 'inbound' ? 'dir-in' : 'dir-out', p.direction),
          td(fmtInt(p.height), 'num'),
          td(short(p.tip, 6, 4), 'mono hide-md', p.tip),
          td(p.ping_ms != null ? p.ping_ms.toFixed(1) + ' ms' : '–', 'num'),
          td(Number.isFinite(seen) ? fmtDuration((Date.now() - seen) / 1000) : '–', 'num', p.last_seen),
          td(fmtInt(p.ban_score), 'num hide-sm'),
        );
        return tr;
      });
      $('peer-rows').replaceChildren(...rows);
      $('peers-empty').hidden = rows.length > 0;
      $('peer-rows').closest('.table-wrap').hidden = rows.length === 0;
      setText('peers-hint', rows.length ? rows.length + ' connected' : '');
    } catch (e) {
      console.warn('peers:', e);
    }
  }

  let peersReload = null;
  function schedulePeers() {
    if (peersReload) return;
    peersReload = setTimeout(() => { peersReload = null; loadPeers(); refreshStatus(); }, 250);
  }

  // ---- Stratum miners ----
  // A node without a Stratum server answers 404 once: the card stays
  // hidden and the page stops asking.
  let stratumTimer = null;
  async function loadStratum() {
    let st;
    try {
      const r = await fetch('/api/stratum', { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (r.status === 404) {
        clearInterval(stratumTimer);
        return;
      }
      if (!r.ok) throw new Error(r.status + ' ' + r.statusText);
      st = await r.json();
    } catch (e) {
      console.warn('stratum:', e);
      return;
    }
    $('stratum').hidden = false;
    const workers = st.workers || [];
    workers.sort((a, b) => String(a.address + a.worker).localeCompare(String(b.address + b.worker)));
    const rows = workers.map((w) => {
      const rejected = Object.values(w.rejected || {}).reduce((a, b) => a + b, 0);
      const reasons = Object.entries(w.rejected || {}).map(([k, v]) => k + ': ' + v).join(', ');
      const last = w.last_share ? Date.parse(w.last_share) : NaN;
      const tr = el('tr');
      tr.append(
        td(short(w.address, 8, 6), 'mono', w.address),
        td(w.worker || '–', '', w.user_agent),
        td(w.remote, 'mono hide-md'),
        td(fmtDifficulty(w.difficulty), 'num'),
        td(fmtInt(w.accepted), 'num'),
        td(fmtInt(rejected), 'num', reasons),
        td(fmtHashrate(w.hashrate), 'num'),
        td(Number.isFinite(last) ? fmtDuration((Date.now() - last) / 1000) + ' ago' : '–', 'num hide-sm', w.last_share),
        td(fmtInt(w.blocks_found), 'num'),
      );
      return tr;
    });
    $('stratum-rows').replaceChildren(...rows);
    $('stratum-empty').hidden = rows.length > 0;
    $('stratum-rows').closest('.table-wrap').hidden = rows.length === 0;
    setText('stratum-hint', fmtInt(st.connections) + ' connected · ' + fmtHashrate(st.hashrate) + ' · ' +
      fmtInt(st.blocks_found) + ' blocks found');
  }

  // ---- hashrate chart ----
  function colorOf(id) {
    if (!deviceColors.has(id)) deviceColors.set(id, PALETTE[deviceColors.size % PALETTE.length]);
    return deviceColors.get(id);
  }

  function onHashrate(ev) {
    const t = ev.time != null ? ev.time * 1000 : Date.now();
    const dev = {};
    for (const d of ev.devices || []) {
      const v = d.hashrate ? d.hashrate['10s'] : null;
      dev[d.id] = Number.isFinite(v) ? v : null;
      colorOf(d.id);
    }
    const total = ev.hashrate ? ev.hashrate['10s'] : null;
    samples.push({ t, total: Number.isFinite(total) ? total : null, dev });
    while (samples.length && samples[0].t < t - CHART_WINDOW_MS) samples.shift();
    renderHashrate(ev.hashrate);
    if (status) status.hashrate = ev.hashrate;
    scheduleChart();
  }

  function scheduleChart() {
    if (chartPending) return;
    chartPending = true;
    requestAnimationFrame(() => { chartPending = false; drawChart(); });
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.2, 1.6, 2, 2.4, 3, 4, 6, 8, 10]) // quarters stay round if (m * p >= v) return m * p;
    return 10 * p;
  }

  function series() {
    const out = [{ id: 'total', label: 'total', color: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2f6fde', total: true,
      points: samples.map((s) => [s.t, s.total]) }];
    for (const [id, color] of deviceColors) {
      out.push({ id, label: id, color, points: samples.map((s) => [s.t, id in s.dev ? s.dev[id] : null]) });
    }
    return out;
  }

  function drawChart() {
    const box = $('chart');
    const valued = samples.filter((s) => s.total != null || Object.values(s.dev).some((v) => v != null));
    const all = series();
    renderLegend(all);
    if (valued.length === 0) {
      if (!box.querySelector('.empty')) box.replaceChildren(el('p', { cls: 'empty', text: 'Waiting for hashrate samples…' }));
      return;
    }
    const W = Math.max(200, box.clientWidth);
    const H = Math.max(120, box.clientHeight);
    const m = { l: 70, r: 12, t: 10, b: 24 };
    // The line grows from the left until the window fills, then slides.
    const t0 = samples[0].t;
    const t1 = Math.max(samples[samples.length - 1].t, t0 + 60 * 1000);
    let max = 0;
    for (const s of all) for (const [, v] of s.points) if (v != null && v > max) max = v;
    const yMax = niceMax(max * 1.05);
    const x = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
    const y = (v) => m.t + (1 - v / yMax) * (H - m.t - m.b);

    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Hashrate over time' });
    const axis = svg('g', { class: 'axis' });
    const ticks = 4;
    for (let i = 0; i <= ticks; i++) {
      const v = (yMax * i) / ticks;
      const yy = y(v);
      axis.append(svg('line', { class: 'gridline', x1: m.l, x2: W - m.r, y1: yy, y2: yy }));
      axis.append(svg('text', { x: m.l - 6, y: yy + 4, 'text-anchor': 'end' }, fmtHashrate(v).replace(/\.0+ /, ' ')));
    }
    const span = (t1 - t0) / 1000;
    const step = [10, 15, 30, 60, 120, 180, 300, 600].find((s) => span / s <= Math.max(2, Math.floor((W - m.l) / 90))) || 900;
    for (let t = Math.ceil(t0 / 1000 / step) * step * 1000; t <= t1; t += step * 1000) {
      const d = new Date(t);
      const label = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: step < 60 ? '2-digit' : undefined, hour12: false });
      axis.append(svg('text', { x: x(t), y: H - 6, 'text-anchor': 'middle' }, label));
    }
    root.append(axis);

    // Devices first, the total on top.
    for (const s of all.slice(1).concat(all.slice(0, 1))) {
      let d = '';
      let pen = false;
      for (const [t, v] of s.points) {
        if (v == null) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + x(t).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      }
      if (!d) continue;
      const path = svg('path', { d, class: 'series' + (s.total ? ' total' : ''), stroke: s.color, 'data-series': s.id });
      if (!s.total) path.setAttribute('stroke-dasharray', all.length === 2 ? '5 4' : '0');
      root.append(path);
      const lastPt = s.points[s.points.length - 1];
      if (lastPt && lastPt[1] != null) {
        root.append(svg('circle', { cx: x(lastPt[0]).toFixed(1), cy: y(lastPt[1]).toFixed(1), r: s.total ? 3.5 : 2.5, fill: s.color }));
      }
    }
    box.replaceChildren(root);
  }

  function renderLegend(all) {
    const last = samples[samples.length - 1];
    const items = all.map((s) => {
      const v = last ? (s.total ? last.total : last.dev[s.id]) : null;
      const sw = el('span', { cls: 'swatch' });
      sw.style.background = s.color;
      return el('li', null, sw, el('span', { text: s.label }), el('span', { cls: 'val', text: fmtHashrate(v) }));
    });
    $('legend').replaceChildren(...items);
  }

  window.addEventListener('resize', scheduleChart);

  // ---- live events ----
  function parse(ev) {
    try { return JSON.parse(ev.data); } catch (e) { console.warn('bad event', ev.type, e); return null; }
  }

  function connect() {
    setConn(hellos ? 'reconnecting' : 'connecting');
    const es = new EventSource('/api/events');
    es.addEventListener('hello', (ev) => {
      const st = parse(ev);
      setConn('live');
      if (st) renderStatus(st, true);
      if (hellos++ > 0) { loadBlocks(); loadPeers(); } // catch up after a reconnect
    });
    es.addEventListener('tip', (ev) => { const b = parse(ev); if (b) onTip(b); });
    es.addEventListener('peer', () => schedulePeers());
    es.addEventListener('hashrate', (ev) => { const h = parse(ev); if (h) onHashrate(h); });
    es.addEventListener('stratum-block', () => loadStratum());
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the node answered with an error): retry ourselves.
        setConn('offline');
        setTimeout(connect, 5000);
      } else {
        setConn('reconnecting');
      }
    });
  }

  // ---- start ----
  refreshStatus();
  loadBlocks();
  loadPeers();
  loadStratum();
  connect();
  setInterval(refreshStatus, STATUS_EVERY_MS);
  setInterval(loadPeers, PEERS_EVERY_MS);
  stratumTimer = setInterval(loadStratum, STRATUM_EVERY_MS);
  setInterval(() => {
    renderTipAge();
    for (const c of document.querySelectorAll('#blocks td.age')) c.textContent = rowAge(Number(c.dataset.time));
  }, 1000);
})();
