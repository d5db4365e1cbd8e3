"""The HTML report's styles and script, inlined into the page (it loads nothing).

The script only filters the tenants' table (by text and by result, one pass
over the rows per change) and opens a tenant's details on a click, built from
the page's embedded JSON when first asked for, so a plan of thousands of
tenants stays a page of one row each until someone looks closer.
"""

from __future__ import annotations

STYLE = """
:root { --ok: #2e8540; --failed: #c62828; --interrupted: #ef8f00; --open: #1565c0;
  --rolled: #6a1b9a; --muted: #6b7280; --line: #e5e7eb; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #111827; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.meta { color: var(--muted); margin: 0; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .2rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { position: sticky; top: 0; background: #f9fafb; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: .6rem; font-size: .8rem;
  color: #fff; background: var(--muted); }
.COMPLETED { background: var(--ok); } .FAILED, .ROLLBACK_FAILED { background: var(--failed); }
.PARTIALLY_FAILED { background: var(--failed); } .RUNNING, .QUEUED { background: var(--open); }
.ROLLED_BACK, .ROLLING_BACK, .PARTIALLY_ROLLED_BACK { background: var(--rolled); }
.PAUSED, .CANCELLED { background: var(--interrupted); }
.bad { color: var(--failed); } .good { color: var(--ok); }
.scroll { max-height: 70vh; overflow: auto; border: 1px solid var(--line); }
svg text { font: 11px system-ui, sans-serif; fill: #374151; }
rect.ok { fill: var(--ok); } rect.failed { fill: var(--failed); }
rect.interrupted { fill: var(--interrupted); } rect.open { fill: var(--open); }
rect.rolled { fill: var(--rolled); }
path.steer { fill: #111827; } path.grid { stroke: var(--line); }
.legend span { margin-right: 1rem; } .legend i { display: inline-block; width: .8rem;
  height: .8rem; margin-right: .3rem; vertical-align: middle; }
#tenants tbody tr.t { cursor: pointer; } #tenants tbody tr.t:hover { background: #f3f4f6; }
tr.more > td { background: #fafafa; } tr.more table { margin: .3rem 0 .6rem; }
.filters { margin: .5rem 0; } .filters input { width: 16rem; }
"""
"""The page's styles: outcomes and statuses share one palette with the timeline."""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('tenant-data').textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll('#tenants tbody tr.t'));
  var text = document.getElementById('filter-text');
  var result = document.getElementById('filter-result');
  var shown = document.getElementById('shown');
  function esc(v) {
    return String(v === null || v === undefined ? '-' : v).replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c];
    });
  }
  function table(head, lines) {
    if (!lines.length) { return ''; }
    return '<table><tr><th>' + head.join('</th><th>') + '</th></tr>' + lines.map(function (l) {
      return '<tr><td>' + l.map(esc).join('</td><td>') + '</td></tr>';
    }).join('') + '</table>';
  }
  function details(t) {
    var runs = table(['stage', 'attempt', 'fence', 'started', 'ended', 'seconds', 'outcome',
      'failure'], t.stageRuns.map(function (r) {
      return [r.stage, r.attempt, r.fence, r.startedAt, r.endedAt, r.seconds, r.outcome,
        r.failureMessage];
    }));
    var seen = table(['instance', 'version', 'checked at', 'matched', 'problem'],
      t.evidence.map(function (e) {
        return [e.instance, e.version, e.checkedAt, e.matched ? 'yes' : 'no', e.problem];
      }));
    var steer = table(['time', 'actor', 'command', 'reason'], t.steering.map(function (s) {
      return [s.time, s.actor, s.action, s.reason];
    }));
    var failed = t.failures.map(function (f) { return '<div class="bad">' + esc(f) + '</div>'; });
    return '<b>task</b> ' + esc(t.taskId) + ' · <b>service type</b> ' + esc(t.serviceType) +
      ' · <b>attempts</b> ' + esc(t.attempts) + failed.join('') +
      (runs && '<h4>Stage runs</h4>' + runs) +
      (seen ? '<h4>Health-check evidence (last poll per instance)</h4>' + seen :
        '<p>No health-check evidence recorded.</p>') +
      (steer && '<h4>Steering</h4>' + steer);
  }
  function toggle(row) {
    var next = row.nextElementSibling;
    if (next && next.classList.contains('more')) { next.remove(); return; }
    var more = document.createElement('tr');
    more.className = 'more';
    more.innerHTML = '<td colspan="' + row.children.length + '">' +
      details(data[Number(row.dataset.i)]) + '</td>';
    row.after(more);
  }
  function filter() {
    var needle = text.value.trim().toLowerCase(), wanted = result.value, count = 0;
    rows.forEach(function (row) {
      var on = (!wanted || row.dataset.r === wanted) &&
        (!needle || row.dataset.s.indexOf(needle) !== -1);
      row.hidden = !on;
      var next = row.nextElementSibling;
      if (next && next.classList.contains('more')) { next.hidden = !on; }
      if (on) { count += 1; }
    });
    shown.textContent = count + ' of ' + rows.length;
  }
  document.querySelector('#tenants tbody').addEventListener('click', function (event) {
    var row = event.target.closest('tr.t');
    if (row) { toggle(row); }
  });
  var pending = null;
  text.addEventListener('input', function () {
    clearTimeout(pending);
    pending = setTimeout(filter, 150);
  });
  result.addEventListener('change', filter);
  filter();
})();
"""
"""The page's script: filters the tenants' table and opens a tenant's details."""
