// What an empty inspector says: why nothing is there, what would appear,
// and how to make it appear. A daemon started with -offline and no apps
// runs no actor at all, which otherwise looks like a broken page.

/** Each machine of the agent: the actors it drives, and what starts them. */
const MACHINES = {
  app: ['one actor per app (app:…), its container from pull to running', 'deploy an app from IronFlock studio (needs the studio link); apps installed earlier come back at start, with -offline too'],
  connection: ['the link to the studio (studio) or to the gateway (gateway): connecting, connected, backoff', 'start without -offline, with -config device.flock (studio) or HOOP_KEY=grpcs://… (gateway)'],
  'studio-session': ['the studio session after each connect: registering the device API, reporting state, heartbeats', 'start with -config device.flock and without -offline'],
  credentials: ['how the gateway link finds its credentials (hoop’s order: AUTO_REGISTER, HOOP_KEY, HOOP_GRPCURL+HOOP_TOKEN, agent.toml, …)', 'set HOOP_KEY, or HOOP_GRPCURL and HOOP_TOKEN, and start without -offline'],
  'gateway-session': ['one actor per gateway session, named by its connection and user', 'connect through the gateway to this agent, e.g. reagent exec AGENT -- uptime'],
  update: ['the self-update (update): checking for a newer version, switching, probation and rollback', 'start without -offline: it looks for a newer version (-update) and answers the studio’s update_agent'],
};

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** Fills `box` with the explanation for an inspector without actors. */
export function renderEmpty(box, { mode, machines, events }) {
  box.replaceChildren();
  if (mode === 'replay') {
    box.append(el('h3', 'This recording holds no events'));
    box.append(el('p', 'The daemon journaled nothing in it: a daemon with no link and no apps (-offline) has no actor, so it records no event. ' +
      'Record a run in which a link connects or an app runs, then write a bug report (reagent bugreport -o r.ndjson) and open it with reagent replay r.ndjson --inspect.'));
    return;
  }
  box.append(el('h3', 'No actors yet'));
  box.append(el('p', events > 0
    ? 'Events were journaled, but no actor is alive: they all stopped before the inspector started. New ones show up here as they start.'
    : 'Nothing runs in this daemon yet: this is what a daemon without links (-offline) and without apps looks like. ' +
      'Each actor gets a statechart here and a row per event below, as soon as it starts; this page updates by itself.'));
  box.append(el('p', 'What would appear, and how to make it appear:', 'hint'));
  const table = el('table');
  const head = el('tr');
  for (const h of ['machine', 'what you would see', 'how to get it']) head.append(el('th', h));
  table.append(head);
  for (const name of Object.keys(machines).sort()) {
    const [what, how] = MACHINES[name] ?? ['actors of this machine', 'start the part of the agent that uses it'];
    const tr = el('tr');
    tr.append(el('td', name, 'mono'), el('td', what), el('td', how));
    table.append(tr);
  }
  box.append(table);
}
