// The spoofguard dashboard: plain JavaScript against the console API, charts drawn as SVG. The token is
// entered once and kept in this browser's localStorage.
'use strict';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const state = {
  token: localStorage.getItem('spoofguard.token') || '',
  role: undefined,
  cursor: undefined,
  detail: undefined,
};

function say(text, kind = 'error') {
  $('message').textContent = text || '';
  $('message').className = kind;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: {
      authorization: `Bearer ${state.token}`,
      ...(options.body ? { 'content-type': 'application/json' } : {}),
    },
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const issues = (problem.issues || []).map((i) => `${i.where}: ${i.message}`).join('; ');
    throw new Error(`${response.status} ${problem.error || response.statusText}${issues ? ` — ${issues}` : ''}`);
  }
  return response.json();
}

/** The filter form as query parameters (empty fields left out, local times as ISO). */
function filterParams(withBucket) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($('filters'))) {
    if (!value || (name === 'bucket' && !withBucket)) continue;
    params.set(name, name === 'since' || name === 'until' ? new Date(value).toISOString() : String(value).trim());
  }
  return params;
}

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawTime(svg, points) {
  svg.replaceChildren();
  const width = svg.clientWidth || 600;
  const height = 160;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  if (!points.length) return svg.append(el('text', { x: 10, y: 20 }, 'no flagged calls'));
  const max = Math.max(...points.map((p) => p.warn + p.block), 1);
  const step = (width - 40) / points.length;
  const scale = (height - 30) / max;
  points.forEach((p, i) => {
    const x = 30 + i * step;
    const hWarn = p.warn * scale;
    const hBlock = p.block * scale;
    const title = `${new Date(p.bucket).toLocaleString()}: ${p.warn} warned, ${p.block} blocked`;
    const warn = el('rect', { class: 'warn', x, y: height - 20 - hWarn, width: Math.max(step - 2, 1), height: hWarn });
    const block = el('rect', {
      class: 'block',
      x,
      y: height - 20 - hWarn - hBlock,
      width: Math.max(step - 2, 1),
      height: hBlock,
    });
    warn.append(el('title', {}, title));
    block.append(el('title', {}, title));
    svg.append(warn, block);
  });
  svg.append(el('text', { x: 0, y: 12 }, String(max)));
  svg.append(el('text', { x: 30, y: height - 5 }, new Date(points[0].bucket).toLocaleString()));
}

function drawBars(svg, items) {
  svg.replaceChildren();
  const width = svg.clientWidth || 300;
  const rows = items.slice(0, 8);
  const height = Math.max(160, rows.length * 20);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  if (!rows.length) return svg.append(el('text', { x: 10, y: 20 }, 'none'));
  const max = Math.max(...rows.map((r) => r.calls), 1);
  rows.forEach((r, i) => {
    const y = i * 20 + 4;
    svg.append(el('text', { x: 0, y: y + 11 }, r.label));
    const bar = el('rect', { class: 'bar', x: 100, y, width: ((width - 140) * r.calls) / max, height: 14 });
    bar.append(el('title', {}, `${r.label}: ${r.calls}`));
    svg.append(bar, el('text', { x: 104 + ((width - 140) * r.calls) / max, y: y + 11 }, String(r.calls)));
  });
}

async function loadStats() {
  const stats = await api(`/api/stats?${filterParams(true)}`);
  drawTime($('chart-time'), stats.overTime);
  drawBars(
    $('chart-brand'),
    stats.byBrand.map((b) => ({ label: b.brand || '(none)', calls: b.calls })),
  );
  drawBars(
    $('chart-outcome'),
    stats.byOutcome.map((o) => ({ label: o.outcome || '(pending)', calls: o.calls })),
  );
  const e = stats.warningEffect;
  $('effect').innerHTML = '';
  $('effect').append(
    e.rejectedShare === null ? '–' : `${Math.round(e.rejectedShare * 100)} %`,
    Object.assign(document.createElement('small'), {
      textContent: `of ${e.accepted + e.reportedAfter + e.rejected + e.reported} warned calls decided were rejected or reported (${e.reported} reported, ${e.accepted + e.reportedAfter} taken)`,
    }),
    Object.assign(document.createElement('small'), {
      className: 'later',
      textContent:
        e.reportedAfterShare === null
          ? ''
          : `${Math.round(e.reportedAfterShare * 100)} % of the warned calls taken were reported afterwards (${e.reportedAfter}, *73)`,
    }),
  );
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text === undefined || text === null ? '' : String(text);
  if (className) td.className = className;
  row.append(td);
}

async function loadCalls(append) {
  const params = filterParams(false);
  params.set('limit', '50');
  if (append && state.cursor) params.set('cursor', state.cursor);
  const page = await api(`/api/calls?${params}`);
  if (!append) $('rows').replaceChildren();
  for (const r of page.records) {
    const tr = document.createElement('tr');
    tr.dataset.callId = r.callId;
    cell(tr, new Date(r.receivedAt).toLocaleString());
    cell(tr, r.callerE164 || r.callerRaw);
    cell(tr, r.displayName);
    cell(tr, r.brand);
    cell(tr, r.verdict, `verdict-${r.verdict}`);
    cell(tr, r.score);
    cell(tr, r.outcome);
    cell(tr, r.stir, r.stir ? `stir-${r.stir.split('-')[0]}` : undefined);
    cell(tr, r.reportedAt ? new Date(r.reportedAt).toLocaleDateString() : '');
    cell(tr, r.reasons.join(', '));
    tr.addEventListener('click', () => showDetail(r.callId).catch((err) => say(err.message)));
    $('rows').append(tr);
  }
  state.cursor = page.nextCursor;
  $('more').hidden = !page.nextCursor;
}

async function showDetail(callId) {
  const call = await api(`/api/calls/${encodeURIComponent(callId)}`);
  state.detail = call;
  $('detail-id').textContent = call.callId;
  const fields = $('detail-fields');
  fields.replaceChildren();
  const shown = {
    received: new Date(call.receivedAt).toLocaleString(),
    caller: call.callerE164 || call.callerRaw,
    name: call.displayName,
    called: call.called,
    trunk: call.trunk,
    verdict: `${call.verdict} (${call.score})`,
    brand: call.brand,
    outcome: call.outcome,
    'STIR/SHAKEN': call.stir
      ? [call.stir, call.stirDetail, call.stirOrigid && `origid ${call.stirOrigid}`].filter(Boolean).join(' · ')
      : undefined,
    ring: call.ringMs !== undefined ? `${(call.ringMs / 1000).toFixed(1)} s` : undefined,
    warning: call.warningMs !== undefined ? `${(call.warningMs / 1000).toFixed(1)} s` : undefined,
    talk: call.talkMs !== undefined ? `${(call.talkMs / 1000).toFixed(1)} s` : undefined,
    source: call.source,
  };
  for (const [k, v] of Object.entries(shown)) {
    if (v === undefined || v === null) continue;
    fields.append(Object.assign(document.createElement('dt'), { textContent: k }));
    fields.append(Object.assign(document.createElement('dd'), { textContent: v }));
  }
  $('detail-reasons').replaceChildren(
    ...call.reasonTexts.map((r) =>
      Object.assign(document.createElement('li'), { textContent: `${r.code}: ${r.text.en}` }),
    ),
  );
  $('admin-actions').hidden = state.role !== 'admin' || !call.callerE164;
  $('detail').hidden = false;
}

async function addCallerToList() {
  const call = state.detail;
  if (!call?.callerE164) return;
  await api('/api/lists/entries', {
    method: 'POST',
    body: JSON.stringify({
      kind: 'number',
      value: call.callerE164,
      ...(call.brand ? { brand: call.brand } : {}),
      reason: `added from the console after call ${call.callId}`,
    }),
  });
  say(`${call.callerE164} is now on the brand-number list`, 'done');
}

/** The brand the filter names: reports go to one brand's desk at a time. */
const reportBrand = () => new FormData($('filters')).get('brand')?.toString().trim().toLowerCase() || '';

/** The report's body: the brand and the current filters (the list's), as strings. */
function reportBody(extra = {}) {
  const filter = Object.fromEntries(filterParams(false));
  delete filter.brand;
  return JSON.stringify({ brand: reportBrand(), filter, ...extra });
}

async function openReport() {
  const preview = await api('/api/brand-reports/preview', { method: 'POST', body: reportBody() });
  if (!preview.calls) return say(`No ${preview.brand} calls in this selection are left to report.`, 'hint');
  $('report-title').textContent = `Report ${preview.calls} calls to ${preview.brand}`;
  $('report-to').textContent = preview.to;
  $('report-source').textContent = `(${preview.source})`;
  $('report-subject').textContent = preview.subject;
  $('report-text').textContent = preview.text;
  $('report-attachment').textContent = `Attached: ${preview.filename} (${preview.calls} calls)`;
  $('report-csv').textContent = preview.csv;
  $('report-send').hidden = !preview.canSend;
  $('report').showModal();
}

async function deliverReport(delivery) {
  const response = await fetch('/api/brand-reports', {
    method: 'POST',
    headers: { authorization: `Bearer ${state.token}`, 'content-type': 'application/json' },
    body: reportBody({ delivery }),
  });
  $('report').close();
  if (response.status === 204) return say('Nothing left to report in this selection.', 'hint');
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(`${response.status} ${problem.error || response.statusText}`);
  }
  if (delivery === 'eml') {
    const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') || '')?.[1] || 'report.eml';
    const url = URL.createObjectURL(await response.blob());
    Object.assign(document.createElement('a'), { href: url, download: name }).click();
    URL.revokeObjectURL(url);
    // the list first (refreshing clears the message line), then what happened
    await refresh();
    say(`Report downloaded as ${name}: send it to the brand yourself. Its calls are marked reported.`, 'done');
  } else {
    const sent = await response.json();
    await refresh();
    say(`Report ${sent.reportId} sent to ${sent.to}: ${sent.calls} calls.`, 'done');
  }
}

async function refresh() {
  say('');
  if (!state.token) return say('Enter an API token to see the flagged calls.', 'hint');
  try {
    const me = await api('/api/whoami');
    state.role = me.role;
    $('whoami').textContent = `${me.name} (${me.role})`;
    const exportParams = filterParams(false);
    $('export').href = `/api/calls.csv?${exportParams}`;
    $('report-open').disabled = !reportBrand();
    $('report-open').textContent = reportBrand() ? `Report to ${reportBrand()}…` : 'Report to the brand…';
    await Promise.all([loadStats(), loadCalls(false)]);
  } catch (err) {
    say(err.message);
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token').value.trim();
  localStorage.setItem('spoofguard.token', state.token);
  $('token').value = '';
  void refresh();
});
$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  void refresh();
});
$('more').addEventListener('click', () => loadCalls(true).catch((err) => say(err.message)));
$('report-open').addEventListener('click', () => openReport().catch((err) => say(err.message)));
$('report-send').addEventListener('click', () => deliverReport('send').catch((err) => say(err.message)));
$('report-eml').addEventListener('click', () => deliverReport('eml').catch((err) => say(err.message)));
$('report-cancel').addEventListener('click', () => $('report').close());
$('close-detail').addEventListener('click', () => ($('detail').hidden = true));
$('add-to-list').addEventListener('click', () => addCallerToList().catch((err) => say(err.message)));
// the CSV link needs the token too: fetch it and hand the browser a file
$('export').addEventListener('click', async (event) => {
  event.preventDefault();
  try {
    const response = await fetch($('export').href, { headers: { authorization: `Bearer ${state.token}` } });
    if (!response.ok) throw new Error(`${response.status} export failed`);
    const url = URL.createObjectURL(await response.blob());
    Object.assign(document.createElement('a'), { href: url, download: 'flagged-calls.csv' }).click();
    URL.revokeObjectURL(url);
  } catch (err) {
    say(err.message);
  }
});
void refresh();
