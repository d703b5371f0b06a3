// The inspector page: actor tree, one statechart per actor with its active
// states highlighted (busiest actor first), the event timeline, and time
// travel: states and contexts as they were right after the selected event.
// Everything is asked of the agent over one WebSocket (rpc.js); nothing is
// loaded from anywhere else.
import { Rpc, latestOnly } from './rpc.js';
import { layoutChart, mountChart } from './statechart.js';
import { VirtualList } from './timeline.js';
import { renderEmpty } from './empty.js';

const $ = (id) => document.getElementById(id);
const ROW_H = 22;

const app = {
  mode: null,
  charts: {},
  actors: new Map(), // id -> { machine, label, events, card, view, tree, value, active }
  machines: {},
  divergence: null, // seq where `reagent replay` reports the divergence
  length: 0,
  first: 0,
  cursor: -1,
  follow: true,
  filter: {},
  selectedActor: null,
  entry: null,
};

const rpc = new Rpc(onPush, (status) => {
  $('status').textContent = status;
  $('status').className = `badge ${status === 'connected' ? 'ok' : 'bad'}`;
});

const list = new VirtualList($('list'), $('list-spacer'), {
  rowHeight: ROW_H,
  fetch: (offset, limit) => rpc.call('rows', { filter: app.filter, offset, limit }),
  render: renderRow,
  onSelect: (row) => {
    setFollow(false);
    moveTo(row);
  },
});

function onPush(msg) {
  if (msg.type === 'hello') hello(msg);
  else if (msg.type === 'grow') grow(msg);
}

async function hello(msg) {
  app.mode = msg.mode;
  app.charts = msg.charts;
  app.machines = msg.machines;
  app.divergence = msg.replay?.report?.divergence?.seq ?? null;
  $('mode').textContent = msg.mode === 'replay' ? 'replay' : 'live';
  $('title').textContent = `${msg.title} · run ${msg.run} · agent ${msg.agentVersion}`;
  if (msg.replay) {
    $('verdict').textContent = msg.replay.line;
    $('verdict').title = msg.replay.line;
    $('verdict').className = msg.replay.report.verdict === 'reproduced' ? '' : 'bad';
  }
  $('follow-label').hidden = msg.mode !== 'live';
  setFollow(msg.mode === 'live');
  fillSelect($('f-source'), msg.vocabulary.sources);
  for (const a of [...msg.actors].sort(busiestFirst)) await addActor(a);
  reorder();
  setLength(msg.length, msg.first);
  showEmpty();
  const t = await rpc.call('rows', { filter: app.filter, offset: 0, limit: 1 });
  $('count').textContent = `${t.total} event(s)`;
  list.reset(t.total);
  // A replay opens at its end, where the verdict is; live follows the newest event.
  await moveTo(msg.length - 1, msg.states);
  list.scrollToIndex(t.total - 1, 'end');
  document.body.dataset.ready = 'true';
}

async function grow(msg) {
  if (msg.actors) {
    for (const a of msg.actors) {
      if (!app.actors.has(a.id)) await addActor(a);
      else updateActor(a);
    }
  }
  for (const [id, n] of Object.entries(msg.events ?? {})) {
    const a = app.actors.get(id);
    if (a) a.events = n;
  }
  reorder();
  const wasAtEnd = list.atEnd();
  setLength(msg.length, msg.first);
  showEmpty();
  const t = await rpc.call('rows', { filter: app.filter, offset: 0, limit: 1 });
  $('count').textContent = `${t.total} event(s)`;
  list.setTotal(t.total);
  if (app.follow) {
    await moveTo(msg.length - 1, msg.states);
    if (wasAtEnd) list.scrollToIndex(t.total - 1, 'end');
  }
}

function setLength(length, first) {
  app.length = length;
  app.first = first;
  const slider = $('slider');
  slider.min = String(first);
  slider.max = String(Math.max(first, length - 1));
}

function busiestFirst(a, b) {
  return b.events - a.events || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Cards and tree entries ordered by activity: the first chart is the busiest actor's. */
function reorder() {
  const sorted = [...app.actors.entries()].map(([id, a]) => ({ id, events: a.events, a })).sort(busiestFirst);
  sorted.forEach(({ a }, i) => {
    a.card.style.order = String(i);
    a.tree.parentElement.style.order = String(i);
    a.card.dataset.rank = String(i);
  });
}

function showEmpty() {
  offerLegend();
  $('tree-none').hidden = app.actors.size > 0;
  const box = $('empty');
  box.hidden = app.actors.size > 0;
  if (!box.hidden) renderEmpty(box, { mode: app.mode, machines: app.machines, events: app.length });
  const none = $('list-empty');
  none.hidden = app.length > 0;
  none.textContent = app.mode === 'replay' ? 'No events in this recording.' : 'No events yet: each event an actor receives appears here as it happens.';
}

/** What a person calls an actor: its label (a gateway session's connection and user) or its id. */
function nameOf(id) {
  return app.actors.get(id)?.label ?? id;
}

function updateActor(a) {
  const entry = app.actors.get(a.id);
  entry.events = a.events;
  if (a.label && a.label !== entry.label) {
    entry.label = a.label;
    entry.name.textContent = a.label;
    entry.treeLabel.textContent = a.label;
    entry.idTag.hidden = false;
    const o = [...$('f-actor').options].find((o) => o.value === a.id);
    if (o) o.textContent = a.label;
  }
}

async function addActor(a) {
  const card = document.createElement('div');
  card.className = 'card';
  card.dataset.actor = a.id;
  const h = document.createElement('h3');
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = a.label ?? a.id;
  const idTag = document.createElement('span');
  idTag.className = 'id';
  idTag.textContent = a.id;
  idTag.hidden = !a.label;
  const machine = document.createElement('span');
  machine.className = 'machine';
  machine.textContent = a.machine ?? 'no machine';
  const value = document.createElement('span');
  value.className = 'value';
  h.append(name, idTag, machine, value);
  const body = document.createElement('div');
  card.append(h, body);
  if (a.notReplayed) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = `Shown on its recorded states, not re-executed: ${a.notReplayed}.`;
    card.insertBefore(p, body);
  }
  card.addEventListener('click', () => selectActor(a.id));
  $('charts').appendChild(card);

  const li = document.createElement('li');
  const row = document.createElement('div');
  row.className = 'actor';
  row.title = a.id;
  const label = document.createElement('span');
  label.textContent = a.label ?? a.id;
  const v = document.createElement('span');
  v.className = 'value';
  row.append(label, v);
  row.addEventListener('click', () => selectActor(a.id));
  li.appendChild(row);
  treeGroup(a.machine).appendChild(li);
  addOption($('f-actor'), a.id, a.label ?? a.id);

  const entry = { machine: a.machine, label: a.label, events: a.events ?? 0, card, name, idTag, value, tree: row, treeLabel: label, treeValue: v, view: null, active: [] };
  app.actors.set(a.id, entry);
  if (a.machine) {
    let chart = app.charts[a.machine];
    if (chart === undefined) {
      chart = (await rpc.call('chart', { machine: a.machine })).chart;
      app.charts[a.machine] = chart;
    }
    if (chart) {
      const layout = await layoutChart(chart);
      entry.view = mountChart(body, layout);
      entry.view.highlight(entry.active, null);
      // Named delays get this actor's values (they may depend on its context; the detail of an event updates them).
      rpc.call('detail', { actor: a.id }).then((r) => r.detail && entry.view.showDelays(r.detail.delays)).catch(() => {});
    }
  }
}

/** The tree: the run at the root, actors grouped under their machine. */
function treeGroup(machine) {
  const key = machine ?? '(no machine)';
  let ul = document.querySelector(`#tree ul[data-machine="${CSS.escape(key)}"]`);
  if (!ul) {
    const li = document.createElement('li');
    const title = document.createElement('span');
    title.textContent = key;
    ul = document.createElement('ul');
    ul.dataset.machine = key;
    li.append(title, ul);
    $('tree').appendChild(li);
  }
  return ul;
}

const fetchState = latestOnly(async (row, known) => {
  const r = known ? { actors: known, entry: null } : await rpc.call('stateAt', { row });
  const entry = r.entry ?? (row >= 0 ? (await rpc.call('rows', { filter: {}, offset: row - app.first, limit: 1 })).rows[0] : null);
  applyStates(row, r.actors, entry);
});

/** Moves time to just after the event at `row`; `known` skips asking when the agent already said. */
async function moveTo(row, known) {
  app.cursor = row;
  $('slider').value = String(row);
  list.select(row);
  fetchState(row, known);
}

function applyStates(row, actors, entry) {
  app.entry = entry;
  const seen = new Set();
  for (const s of actors) {
    const a = app.actors.get(s.actor);
    if (!a) continue;
    seen.add(s.actor);
    a.active = s.active;
    const text = s.value === null ? 'stopped' : s.active.filter((p) => !s.active.some((q) => q.startsWith(`${p}.`))).join(', ');
    a.value.textContent = text;
    a.treeValue.textContent = text;
    a.tree.parentElement.classList.toggle('gone', s.value === null);
    a.view?.highlight(s.active, entry && entry.actor === s.actor ? entry.type : null);
  }
  // Actors that did not exist yet at this point in time.
  for (const [id, a] of app.actors) {
    if (seen.has(id)) continue;
    a.value.textContent = 'not yet spawned';
    a.treeValue.textContent = '—';
    a.view?.highlight([], null);
  }
  $('cursor').textContent = entry
    ? `#${row} · seq ${entry.seq} · ${fmtTime(entry.at)} · ${nameOf(entry.actor)} ${entry.type}`
    : app.length === 0 ? 'no events yet' : `#${row}`;
  for (const c of document.querySelectorAll('.card.current')) c.classList.remove('current');
  if (entry) app.actors.get(entry.actor)?.card.classList.add('current');
  showDetail();
}

async function selectActor(id) {
  app.selectedActor = id;
  for (const [aid, a] of app.actors) {
    a.card.classList.toggle('selected', aid === id);
    a.tree.classList.toggle('selected', aid === id);
  }
  app.actors.get(id)?.card.scrollIntoView({ block: 'nearest' });
  showDetail();
}

/**
 * The selected event, and the context of the clicked actor (else the event's
 * actor) right after it. A replay rebuilds that context, so while the slider
 * moves only the newest request is sent.
 */
const showDetail = latestOnly(async () => {
  const e = app.entry;
  const actor = app.selectedActor ?? e?.actor ?? null;
  const row = app.cursor;
  const r = actor !== null && row >= app.first ? await rpc.call('detail', { actor, row }).catch(() => null) : null;
  if (row !== app.cursor || e !== app.entry) {
    showDetail(); // the slider moved on meanwhile: show where it is now
    return;
  }
  const box = $('detail');
  box.replaceChildren();
  if (e) {
    addText(box, 'h2', `event #${e.row} (seq ${e.seq})`);
    addText(box, 'pre', JSON.stringify({ actor: e.actor, source: e.source, type: e.type, payload: e.payload, stateAfter: e.state && JSON.parse(e.state), commands: e.commands }, null, 2));
  }
  if (actor === null) {
    addText(box, 'p', 'Click an actor or an event.').className = 'hint';
    return;
  }
  const d = r?.detail;
  const h = addText(box, 'h2', `context of ${nameOf(actor)}`);
  h.id = 'context-title';
  addText(box, 'p', e ? `right after event #${row} (seq ${e.seq})${d ? ` · ${d.status}` : ''}` : '').className = 'hint';
  if (!d) return;
  if (d.unavailable) {
    const p = addText(box, 'p', d.unavailable);
    p.className = 'unavailable';
    p.id = 'context-unavailable';
    return;
  }
  addText(box, 'pre', JSON.stringify(d.context, null, 2)).id = 'context';
  if (d.note) addText(box, 'p', d.note).className = 'note';
  const view = app.actors.get(actor)?.view;
  if (view && d.delays) view.showDelays(d.delays);
});

const RUNTIME_NOTES = new Set(['@runtime.ran-before-durable', '@runtime.journal-gap']);

/** The colour class of a row: who sent the event (see the legend). */
function kindOf(r) {
  if (RUNTIME_NOTES.has(r.type)) return 'k-note';
  if (r.type === '@runtime.spawn' || r.type === '@runtime.stop') return 'k-lifecycle';
  if (r.source === 'clock') return 'k-timer';
  return 'k-input';
}

function renderRow(div, r) {
  const cells = [String(r.seq), fmtTime(r.at), nameOf(r.actor), r.source, r.type, r.state ?? '—', r.payload && Object.keys(r.payload).length ? JSON.stringify(r.payload) : ''];
  if (div.children.length !== cells.length) div.replaceChildren(...cells.map(() => document.createElement('span')));
  cells.forEach((c, i) => {
    div.children[i].textContent = c;
    div.children[i].title = c;
  });
  div.children[2].title = r.actor;
  div.children[5].classList.toggle('changed', r.changed);
  for (const k of ['k-note', 'k-lifecycle', 'k-timer', 'k-input']) div.classList.toggle(k, false);
  div.classList.add(kindOf(r));
  div.classList.toggle('differs', r.differs);
  div.classList.toggle('history', r.history);
  div.classList.toggle('diverged', app.divergence !== null && r.seq === app.divergence);
}

function fmtTime(at) {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toISOString().slice(11, 23);
}

function addText(parent, tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  parent.appendChild(el);
  return el;
}

function addOption(select, value, text = value) {
  if ([...select.options].some((o) => o.value === value)) return;
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  select.appendChild(o);
}

function fillSelect(select, values) {
  for (const v of values) addOption(select, v);
}

function setFollow(on) {
  app.follow = on && app.mode === 'live';
  $('follow').checked = app.follow;
}

// ---- controls ----

// The legend opens by itself on a first visit; once closed it stays closed (until asked for again).
const LEGEND_KEY = 'reagent-inspector.legend';
function setLegend(open) {
  $('legend').hidden = !open;
  $('legend-toggle').setAttribute('aria-expanded', String(open));
  try {
    localStorage.setItem(LEGEND_KEY, open ? 'open' : 'closed');
  } catch {
    // storage may be off; the legend still toggles
  }
}
let legendStored = null;
try {
  legendStored = localStorage.getItem(LEGEND_KEY);
} catch {
  legendStored = null;
}
if (legendStored === 'open') setLegend(true);
/** A first visit gets the legend open, once there is something it explains (an empty view explains itself). */
function offerLegend() {
  if (legendStored === null && app.actors.size > 0 && $('legend').hidden) {
    legendStored = 'offered';
    setLegend(true);
  }
}
$('legend-toggle').addEventListener('click', () => setLegend($('legend').hidden));
$('legend-close').addEventListener('click', () => setLegend(false));

$('slider').addEventListener('input', (e) => {
  setFollow(false);
  const row = Number(e.target.value);
  moveTo(row);
  rpc.call('locate', { filter: app.filter, row }).then((r) => list.scrollToIndex(r.index)).catch(() => {});
});
const step = (delta) => () => {
  setFollow(false);
  const row = Math.min(app.length - 1, Math.max(app.first, app.cursor + delta));
  moveTo(row);
  rpc.call('locate', { filter: app.filter, row }).then((r) => list.scrollToIndex(r.index)).catch(() => {});
};
$('prev').addEventListener('click', step(-1));
$('next').addEventListener('click', step(1));
$('first').addEventListener('click', step(-Infinity));
$('last').addEventListener('click', step(Infinity));
$('follow').addEventListener('change', (e) => {
  setFollow(e.target.checked);
  if (app.follow) moveTo(app.length - 1);
});
document.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement && e.target.type !== 'range') return;
  if (e.key === 'ArrowLeft') step(-1)();
  if (e.key === 'ArrowRight') step(1)();
});

let filterTimer;
const onFilter = () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(async () => {
    app.filter = {
      actor: $('f-actor').value || undefined,
      source: $('f-source').value || undefined,
      type: $('f-type').value || undefined,
      text: $('f-text').value || undefined,
    };
    const t = await rpc.call('rows', { filter: app.filter, offset: 0, limit: 1 });
    $('count').textContent = `${t.total} event(s)`;
    list.reset(t.total);
    const r = await rpc.call('locate', { filter: app.filter, row: app.cursor });
    list.scrollToIndex(Math.max(0, r.index));
  }, 150);
};
for (const id of ['f-actor', 'f-source']) $(id).addEventListener('change', onFilter);
for (const id of ['f-type', 'f-text']) $(id).addEventListener('input', onFilter);
$('filters').addEventListener('submit', (e) => e.preventDefault());
