/**
 * GET /dashboard: one self-contained page (inline CSS and JS, no external assets) that
 * polls /api/v1/metrics and /api/v1/health every second and shows the host's collectors:
 * throughput, latency, outcomes, Kafka and circuit state, the spill log, per process; and
 * every 5 s /api/v1/schemas: the payload schema versions in force and in use. Batches are
 * also split by the door they came in (HTTP, gRPC): rate, failures and latency of each.
 * Element ids are stable: test/integration/ops/dashboard.test.ts reads them.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Event Collector — dashboard</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg:#0f1419; --card:#1a2129; --fg:#e6e6e6; --dim:#8b98a5; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --acc:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; align-items:baseline; gap:16px; padding:14px 20px; border-bottom:1px solid #263040; }
  header h1 { font-size:18px; margin:0; }
  header .dim { color:var(--dim); }
  main { padding:16px 20px; }
  .grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(180px, 1fr)); gap:12px; }
  .card { background:var(--card); border-radius:8px; padding:12px 14px; }
  .card .label { color:var(--dim); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
  .card .value { font-size:26px; font-weight:600; font-variant-numeric:tabular-nums; margin-top:4px; }
  .card .sub { color:var(--dim); font-size:12px; }
  .ok { color:var(--ok); } .warn { color:var(--warn); } .bad { color:var(--bad); }
  canvas { width:100%; height:120px; background:var(--card); border-radius:8px; margin-top:12px; display:block; }
  table { width:100%; border-collapse:collapse; margin-top:16px; background:var(--card); border-radius:8px; overflow:hidden; }
  th, td { padding:8px 10px; text-align:right; font-variant-numeric:tabular-nums; border-bottom:1px solid #263040; }
  th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align:left; }
  th { color:var(--dim); font-weight:500; font-size:12px; text-transform:uppercase; }
  #error { color:var(--bad); min-height:1.4em; margin-top:8px; }
  .bar { height:6px; background:#263040; border-radius:3px; margin-top:6px; overflow:hidden; }
  .bar > div { height:100%; background:var(--acc); width:0; }
</style>
</head>
<body>
<header>
  <h1>Event Collector</h1>
  <span id="status" class="dim">connecting…</span>
  <span class="dim">answered by <b id="answered-by">–</b></span>
  <span class="dim">updated <span id="updated">never</span></span>
</header>
<main>
  <div class="grid">
    <div class="card"><div class="label">Events / s</div><div class="value" id="eps">–</div><div class="sub">last 60 s, all processes</div></div>
    <div class="card"><div class="label">p99 latency</div><div class="value" id="p99">–</div><div class="sub">p50 <span id="p50">–</span> · avg <span id="avg">–</span></div></div>
    <div class="card"><div class="label">Processed</div><div class="value" id="processed">–</div><div class="sub">events since start</div></div>
    <div class="card"><div class="label">Accepted</div><div class="value" id="accepted">–</div><div class="sub">in Kafka <span id="kafka-writes">–</span></div></div>
    <div class="card"><div class="label">Rejected</div><div class="value" id="rejected">–</div><div class="sub">DLQ records <span id="dlq">–</span> · rate <span id="dlq-rate">–</span></div></div>
    <div class="card"><div class="label">Kafka</div><div class="value" id="kafka">–</div><div class="sub">circuit <span id="circuit">–</span></div></div>
    <div class="card"><div class="label">Spill log</div><div class="value" id="spill-fill">–</div><div class="bar"><div id="spill-bar"></div></div><div class="sub"><span id="buffered">–</span> events buffered</div></div>
    <div class="card"><div class="label">Replay</div><div class="value" id="replay">–</div><div class="sub">events/s from disk · <span id="replayed">–</span> replayed</div></div>
  </div>
  <canvas id="chart" width="1200" height="120" aria-label="events per second, last 2 minutes"></canvas>
  <table>
    <thead><tr><th>Instance</th><th>Status</th><th>Kafka</th><th>Circuit</th><th>Events/s</th><th>Processed</th><th>p99 ms</th><th>Spill %</th><th>Replay/s</th><th>Uptime</th><th>Age</th></tr></thead>
    <tbody id="processes"></tbody>
  </table>
  <table>
    <thead><tr><th>Ingress</th><th>Batches</th><th>Batches/s</th><th>Failed</th><th>p50 ms</th><th>p99 ms</th></tr></thead>
    <tbody id="ingress"></tbody>
  </table>
  <table>
    <thead><tr><th>Event type</th><th>Versions in force</th><th>Default</th><th>Compatibility</th><th>Events by version (valid / invalid)</th></tr></thead>
    <tbody id="schemas"></tbody>
  </table>
  <div class="dim" id="schema-status"></div>
  <div id="error"></div>
</main>
<script>
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var fmt = new Intl.NumberFormat('en-US');
  var history = [];
  var polls = 0;
  var lastIngress = null;
  function set(id, text, cls) {
    var el = $(id);
    if (!el) return;
    el.textContent = text;
    if (cls !== undefined) el.className = 'value ' + cls;
  }
  function ms(v) { return (typeof v === 'number' ? v.toFixed(v < 10 ? 2 : 1) : '–') + ' ms'; }
  function num(v) { return typeof v === 'number' ? fmt.format(v) : '–'; }
  function getJson(path) {
    return fetch(path, { cache: 'no-store' }).then(function (r) {
      // /api/v1/health answers 503 with its document when unhealthy: still a document.
      return r.json();
    });
  }
  function draw() {
    var c = $('chart');
    var ctx = c.getContext('2d');
    var w = c.width, h = c.height;
    ctx.clearRect(0, 0, w, h);
    if (history.length < 2) return;
    var max = Math.max.apply(null, history.concat([1]));
    ctx.strokeStyle = '#58a6ff';
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (var i = 0; i < history.length; i++) {
      var x = (i / 119) * w;
      var y = h - 6 - (history[i] / max) * (h - 20);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    }
    ctx.stroke();
    ctx.fillStyle = '#8b98a5';
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText('max ' + fmt.format(Math.round(max)) + ' events/s', 8, 14);
  }
  function row(p, m) {
    var tr = document.createElement('tr');
    var cells = [
      p.instance + (p.self ? ' (answering)' : '') + ' · pid ' + p.pid,
      p.status,
      p.kafka_connected ? 'connected' : 'down',
      p.circuit_state,
      num(p.events_per_second),
      m ? num(m.events_processed_total) : '–',
      m ? m.p99_processing_time_ms.toFixed(2) : '–',
      p.buffer_fill_percent.toFixed(1),
      num(p.replay_events_per_second),
      p.uptime_seconds + ' s',
      (p.age_ms / 1000).toFixed(1) + ' s'
    ];
    cells.forEach(function (text, i) {
      var td = document.createElement('td');
      td.textContent = text;
      if (i === 1) td.className = text === 'healthy' ? 'ok' : text === 'degraded' ? 'warn' : 'bad';
      if (i === 2) td.className = text === 'connected' ? 'ok' : 'bad';
      tr.appendChild(td);
    });
    tr.setAttribute('data-instance', p.instance);
    return tr;
  }
  function renderIngress(ingress) {
    if (!ingress) return;
    var now = Date.now();
    var rows = ['http', 'grpc'].map(function (door) {
      var d = ingress[door];
      var rate = '–';
      // Batches/s from the change since the last poll: the host's counters are cumulative.
      if (lastIngress && now > lastIngress.at) rate = num(Math.max(0, Math.round((d.batches_total - lastIngress[door]) * 1000 / (now - lastIngress.at))));
      var tr = document.createElement('tr');
      tr.id = 'ingress-' + door;
      tr.append(cell(door === 'http' ? 'HTTP' : 'gRPC'), cell(num(d.batches_total)), cell(rate), cell(num(d.failed_total)),
        cell(d.batches_in_window ? d.p50_ms.toFixed(2) : '–'), cell(d.batches_in_window ? d.p99_ms.toFixed(2) : '–'));
      if (d.failed_total > 0) tr.children[3].className = 'warn';
      return tr;
    });
    $('ingress').replaceChildren.apply($('ingress'), rows);
    lastIngress = { at: now, http: ingress.http.batches_total, grpc: ingress.grpc.batches_total };
  }
  function render(m, h) {
    polls++;
    renderIngress(m.ingress);
    set('eps', num(m.events_per_second));
    set('p99', ms(m.p99_processing_time_ms), m.p99_processing_time_ms > 40 ? 'bad' : '');
    $('p50').textContent = ms(m.p50_processing_time_ms);
    $('avg').textContent = ms(m.avg_processing_time_ms);
    set('processed', num(m.events_processed_total));
    set('accepted', num(m.events_accepted_total));
    $('kafka-writes').textContent = num(m.kafka_writes_total);
    set('rejected', num(m.events_rejected_total));
    $('dlq').textContent = num(m.dlq_events_total);
    var rate = m.events_processed_total ? m.events_rejected_total / m.events_processed_total : 0;
    $('dlq-rate').textContent = (rate * 100).toFixed(1) + ' %';
    var procs = h.processes || [];
    var up = procs.filter(function (p) { return p.kafka_connected; }).length;
    set('kafka', up + '/' + procs.length + ' up', up === procs.length ? 'ok' : up === 0 ? 'bad' : 'warn');
    var states = {};
    procs.forEach(function (p) { states[p.circuit_state] = (states[p.circuit_state] || 0) + 1; });
    $('circuit').textContent = Object.keys(states).map(function (k) { return k + ' ×' + states[k]; }).join(', ') || '–';
    var fill = procs.reduce(function (mx, p) { return Math.max(mx, p.buffer_fill_percent); }, 0);
    set('spill-fill', fill.toFixed(1) + ' %', fill > 80 ? 'bad' : fill > 0 ? 'warn' : '');
    $('spill-bar').style.width = Math.min(100, fill) + '%';
    $('buffered').textContent = num(m.buffer_events_count);
    set('replay', num(procs.reduce(function (s, p) { return s + p.replay_events_per_second; }, 0)));
    $('replayed').textContent = num(m.replayed_events_total);
    $('answered-by').textContent = m.answered_by + ' (' + m.processes_reporting + ' process' + (m.processes_reporting === 1 ? '' : 'es') + ')';
    var st = $('status');
    st.textContent = h.status;
    st.className = h.status === 'healthy' ? 'ok' : h.status === 'degraded' ? 'warn' : 'bad';
    var byInstance = {};
    (m.per_process || []).forEach(function (p) { byInstance[p.instance] = p; });
    var tbody = $('processes');
    var rows = procs.map(function (p) { return row(p, byInstance[p.instance]); });
    tbody.replaceChildren.apply(tbody, rows);
    history.push(m.events_per_second);
    if (history.length > 120) history.shift();
    draw();
    $('updated').textContent = new Date().toLocaleTimeString() + ' (#' + polls + ')';
    $('error').textContent = '';
    document.body.setAttribute('data-polls', String(polls));
  }
  function cell(text) { var td = document.createElement('td'); td.textContent = text; return td; }
  function renderSchemas(s) {
    var use = {};
    s.in_use.forEach(function (u) { (use[u.event_type] = use[u.event_type] || []).push('v' + u.schema_version + ' ' + num(u.valid) + ' / ' + num(u.invalid)); });
    var types = s.types.map(function (t) { return t.event_type; });
    Object.keys(use).forEach(function (t) { if (types.indexOf(t) < 0) types.push(t); });
    var byType = {};
    s.types.forEach(function (t) { byType[t.event_type] = t; });
    var rows = types.sort().map(function (name) {
      var t = byType[name];
      var tr = document.createElement('tr');
      tr.append(cell(name), cell(t ? t.versions.map(function (v) { return 'v' + v.version; }).join(', ') : 'no schema'),
        cell(t ? 'v' + t.default_version + (t.pinned ? ' (pinned)' : '') : '–'), cell(t ? t.compatibility : '–'), cell((use[name] || []).join(' · ') || '–'));
      return tr;
    });
    $('schemas').replaceChildren.apply($('schemas'), rows);
    var gens = s.processes.map(function (p) { return p.instance + ': gen ' + p.generation; }).join(', ');
    $('schema-status').textContent = 'payload schemas from ' + s.source + (s.location ? ' ' + s.location : '') + ' · ' + s.status +
      (s.problems.length ? ' — ' + s.problems.map(function (p) { return p.message; }).join('; ') : '') + ' · ' + gens;
    $('schema-status').className = s.status === 'ok' ? 'dim' : 'warn';
  }
  function pollSchemas() {
    getJson('/api/v1/schemas').then(renderSchemas, function () { /* older collector or off: the panel stays empty */ })
      .then(function () { setTimeout(pollSchemas, 5000); });
  }
  pollSchemas();
  function poll() {
    Promise.all([getJson('/api/v1/metrics'), getJson('/api/v1/health')]).then(
      function (r) { render(r[0], r[1]); },
      function (err) { $('error').textContent = 'cannot reach the collector: ' + (err && err.message ? err.message : err); }
    ).then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>
</body>
</html>
`;
