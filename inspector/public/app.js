// The inspector page: actor tree, one statechart per actor with its active
// states highlighted, the event timeline, and time travel. Everything is
// asked of the agent over one WebSocket (rpc.js); nothing is loaded from
// anywhere else.
import { Rpc, latestOnly } from './rpc.js';
import { layoutChart, mountChart } from './statechart.js';
import { VirtualList } from './timeline.js';

const $ = (id) => document.getElementById(id);
const ROW_H = 22;

const app = {
  mode: null,
  charts: {},
  actors: new Map(), // id -> { machine, card, view, tree, value, active }
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
  for (const a of msg.actors) await addActor(a);
  setLength(msg.length, msg.first);
  const t = await rpc.call('rows', { filter: app.filter, offset: 0, limit: 1 });
  $('count').textContent = `${t.total} event(s)`;
  list.reset(t.total);
  // A replay opens at its end, where the verdict is; live follows the newest event.
  await moveTo(msg.length - 1, msg.states);
  list.scrollToIndex(t.total - 1, 'end');
  document.body.dataset.ready = 'true';
}

async function grow(msg) {
  if (msg.actors) for (const a of msg.actors) if (!app.actors.has(a.id)) await addActor(a);
  const wasAtEnd = list.atEnd();
  setLength(msg.length, msg.first);
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

async function addActor(a) {
  const card = document.createElement('div');
  card.className = 'card';
  card.dataset.actor = a.id;
  const h = document.createElement('h3');
  const name = document.createElement('span');
  name.textContent = a.id;
  const value = document.createElement('span');
  value.className = 'value';
  h.append(name, value);
  const body = document.createElement('div');
  card.append(h, body);
  card.addEventListener('click', () => selectActor(a.id));
  $('charts').appendChild(card);

  const li = document.createElement('li');
  const row = document.createElement('div');
  row.className = 'actor';
  const label = document.createElement('span');
  label.textContent = a.id;
  const v = document.createElement('span');
  v.className = 'value';
  row.append(label, v);
  row.addEventListener('click', () => selectActor(a.id));
  li.appendChild(row);
  treeGroup(a.machine).appendChild(li);
  addOption($('f-actor'), a.id);

  const entry = { machine: a.machine, card, value, tree: row, treeValue: v, view: null, active: [] };
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
    ? `#${row} · seq ${entry.seq} · ${fmtTime(entry.at)} · ${entry.actor} ${entry.type}`
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

async function showDetail() {
  const box = $('detail');
  box.replaceChildren();
  const e = app.entry;
  if (e) {
    addText(box, 'h2', `event #${e.row} (seq ${e.seq})`);
    addText(box, 'pre', JSON.stringify({ actor: e.actor, source: e.source, type: e.type, payload: e.payload, stateAfter: e.state && JSON.parse(e.state), commands: e.commands }, null, 2));
  }
  if (app.selectedActor) {
    const r = await rpc.call('detail', { actor: app.selectedActor }).catch(() => null);
    if (r?.detail) {
      addText(box, 'h2', `${app.selectedActor}: context (${app.mode === 'replay' ? 'at the end of the replay' : 'now'})`);
      addText(box, 'pre', JSON.stringify(r.detail.context, null, 2));
    }
  }
}

function renderRow(div, r) {
  const cells = [String(r.seq), fmtTime(r.at), r.actor, r.source, r.type, r.state ?? '—', r.payload && Object.keys(r.payload).length ? JSON.stringify(r.payload) : ''];
  if (div.children.length !== cells.length) div.replaceChildren(...cells.map(() => document.createElement('span')));
  cells.forEach((c, i) => {
    div.children[i].textContent = c;
    div.children[i].title = c;
  });
}

function fmtTime(at) {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toISOString().slice(11, 23);
}

function addText(parent, tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  parent.appendChild(el);
}

function addOption(select, value) {
  if ([...select.options].some((o) => o.value === value)) return;
  const o = document.createElement('option');
  o.value = value;
  o.textContent = value;
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
