// Statechart diagrams: the chart the agent sends (nested states, transitions
// with events, delays and guards) laid out by elkjs (layered, hierarchy
// included: edges may cross compound-state borders) and drawn as SVG. ELK
// gives each edge's points relative to the edge's `container` node, so every
// node's absolute offset is computed first. One layout per machine; each
// actor gets its own copy of the drawing to highlight.
/* global ELK */
const elk = new ELK();
const layouts = new Map();
const SVG = 'http://www.w3.org/2000/svg';

const CHAR_W = 7.2;
const LABEL_CHAR_W = 6.4;

export function layoutChart(chart) {
  const key = `${chart.machine}@${chart.version}`;
  if (!layouts.has(key)) layouts.set(key, build(chart));
  return layouts.get(key);
}

function nodeId(path) {
  return `n:${path}`;
}

function toElkNode(node) {
  const children = node.children.map(toElkNode);
  if (node.initial !== null && node.children.length) {
    children.push({ id: `i:${node.path}`, width: 10, height: 10 });
  }
  const label = node.key;
  if (children.length === 0) {
    return { id: nodeId(node.path), width: Math.max(70, label.length * CHAR_W + 24), height: 32, labels: [{ text: label }] };
  }
  return {
    id: nodeId(node.path),
    labels: [{ text: label }],
    layoutOptions: { 'elk.padding': `[top=30,left=14,bottom=14,right=14]`, 'elk.nodeSize.minimum': `(${label.length * CHAR_W + 40}, 60)`, 'elk.nodeSize.constraints': 'MINIMUM_SIZE' },
    children,
  };
}

function edgeText(e) {
  return e.guard ? `${e.label} [${e.guard}]` : e.label;
}

async function build(chart) {
  const edges = [];
  const walkInitial = (node) => {
    if (node.initial !== null && node.children.length) {
      const target = node.path ? `${node.path}.${node.initial}` : node.initial;
      edges.push({ id: `init:${node.path}`, sources: [`i:${node.path}`], targets: [nodeId(target)] });
    }
    node.children.forEach(walkInitial);
  };
  walkInitial(chart.root);
  for (const e of chart.edges) {
    if (e.source === '') continue; // transitions of the root itself have no box to start from
    const targets = e.targets.length ? e.targets : [e.source];
    targets.forEach((t, k) => {
      if (t === '') return;
      // Named delays get room for the actor's value, "(12345ms)", drawn later.
      const text = edgeText(e) + (typeof e.delay === 'string' ? ' (00000ms)' : '');
      edges.push({
        id: `${e.id}.${k}`,
        sources: [nodeId(e.source)],
        targets: [nodeId(t)],
        labels: [{ text, width: text.length * LABEL_CHAR_W + 6, height: 14 }],
        meta: e,
      });
    });
  }
  const graph = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.direction': 'DOWN',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.spacing.nodeNode': '28',
      'elk.layered.spacing.nodeNodeBetweenLayers': '48',
      'elk.spacing.edgeLabel': '4',
      'elk.padding': '[top=10,left=10,bottom=10,right=10]',
    },
    children: chart.root.children.map(toElkNode),
    edges: edges.map(({ meta, ...e }) => e),
  };
  if (chart.root.initial !== null) graph.children.push({ id: 'i:', width: 10, height: 10 });
  const out = await elk.layout(graph);
  const metaById = new Map(edges.map((e) => [e.id, e.meta]));
  return render(chart, out, metaById);
}

function render(chart, out, metaById) {
  const abs = new Map([['root', { x: 0, y: 0 }]]);
  const nodes = [];
  const place = (n, px, py, depth) => {
    const x = px + (n.x ?? 0);
    const y = py + (n.y ?? 0);
    abs.set(n.id, { x, y });
    nodes.push({ n, x, y, depth });
    for (const c of n.children ?? []) place(c, x, y, depth + 1);
  };
  for (const c of out.children ?? []) place(c, 0, 0, 0);
  const types = new Map();
  const index = (node) => {
    types.set(nodeId(node.path), node);
    node.children.forEach(index);
  };
  index(chart.root);

  const parts = [];
  parts.push(`<svg xmlns="${SVG}" class="chart" width="${Math.ceil(out.width)}" height="${Math.ceil(out.height)}" viewBox="0 0 ${Math.ceil(out.width)} ${Math.ceil(out.height)}">`);
  parts.push('<defs><marker id="__M__" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>');
  // Outer boxes first, so nested ones are drawn on top of them.
  nodes.sort((a, b) => a.depth - b.depth);
  for (const { n, x, y } of nodes) {
    if (n.id.startsWith('i:')) {
      parts.push(`<circle class="initial" cx="${x + 5}" cy="${y + 5}" r="5"/>`);
      continue;
    }
    const node = types.get(n.id);
    const compound = (n.children ?? []).length > 0;
    const cls = ['state', compound ? 'compound' : 'atomic', node?.type === 'final' ? 'final' : ''].filter(Boolean).join(' ');
    const title = [node?.path, node?.entry?.length ? `entry: ${node.entry.join(', ')}` : '', node?.exit?.length ? `exit: ${node.exit.join(', ')}` : ''].filter(Boolean).join('\n');
    parts.push(`<g class="${cls}" data-state="${esc(node?.path ?? '')}" data-key="${esc(node?.key ?? '')}"><title>${esc(title)}</title>`);
    parts.push(`<rect x="${x}" y="${y}" width="${n.width}" height="${n.height}" rx="8" ry="8"/>`);
    if (compound) parts.push(`<text x="${x + 10}" y="${y + 18}">${esc(node?.key ?? '')}</text>`);
    else parts.push(`<text x="${x + n.width / 2}" y="${y + n.height / 2 + 4}" text-anchor="middle">${esc(node?.key ?? '')}</text>`);
    parts.push('</g>');
  }
  for (const e of out.edges ?? []) {
    const off = abs.get(e.container ?? 'root') ?? { x: 0, y: 0 };
    const meta = metaById.get(e.id);
    for (const s of e.sections ?? []) {
      const pts = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint].map((p) => `${(p.x + off.x).toFixed(1)},${(p.y + off.y).toFixed(1)}`);
      const cls = ['edge', meta && meta.targets.length === 0 ? 'targetless' : '', meta ? '' : 'init'].filter(Boolean).join(' ');
      const attrs = meta
        ? ` data-event="${esc(meta.event)}" data-source="${esc(meta.source)}" data-targets="${esc(meta.targets.join(' '))}"${typeof meta.delay === 'string' ? ` data-delay="${esc(meta.delay)}"` : ''}`
        : '';
      parts.push(`<g class="${cls}"${attrs}><path d="M${pts.join(' L')}" marker-end="url(#__M__)"/>`);
      if (meta) {
        const l = (e.labels ?? [])[0];
        if (l) parts.push(`<text x="${(l.x + off.x).toFixed(1)}" y="${(l.y + off.y + 11).toFixed(1)}">${esc(edgeText(meta))}</text>`);
      }
      parts.push('</g>');
    }
  }
  parts.push('</svg>');
  return { svg: parts.join(''), width: out.width, height: out.height };
}

let uid = 0;

/** Draws a laid-out chart into `container`; returns what highlighting needs. */
export function mountChart(container, layout) {
  const marker = `arrow${++uid}`;
  container.innerHTML = layout.svg.replaceAll('__M__', marker);
  const svg = container.querySelector('svg');
  const states = new Map([...svg.querySelectorAll('g.state')].map((g) => [g.dataset.state, g]));
  const edges = [...svg.querySelectorAll('g.edge[data-event]')];
  return {
    svg,
    /** Marks the active states, and the edges the last event of this actor took. */
    highlight(active, lastEvent) {
      const on = new Set(active);
      for (const [path, g] of states) g.classList.toggle('active', on.has(path));
      for (const g of edges) {
        const targets = g.dataset.targets ? g.dataset.targets.split(' ') : [];
        const took = lastEvent !== null && g.dataset.event === lastEvent && (targets.length ? targets.some((t) => on.has(t)) : on.has(g.dataset.source));
        g.classList.toggle('taken', took);
      }
    },
    /** Shows this actor's value of each named delay next to its name (values may change with its context). */
    showDelays(delays) {
      for (const g of edges) {
        const name = g.dataset.delay;
        const text = g.querySelector('text');
        if (!name || !text || delays[name] === undefined) continue;
        if (text.dataset.base === undefined) text.dataset.base = text.textContent;
        text.textContent = `${text.dataset.base} (${delays[name]}ms)`;
      }
    },
  };
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
