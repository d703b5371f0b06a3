// The event timeline: a virtualized list. Only the rows in view exist in the
// DOM, fetched from the agent a page at a time, so 100k or a million events
// scroll like ten. Past a few million pixels browsers stop growing an
// element, so the scrollbar is scaled and the first visible row computed from
// the scroll fraction instead.
const PAGE = 200;
const MAX_PX = 4_000_000;

export class VirtualList {
  constructor(container, spacer, { rowHeight, fetch, render, onSelect }) {
    this.el = container;
    this.spacer = spacer;
    this.h = rowHeight;
    this.fetch = fetch;
    this.render = render;
    this.onSelect = onSelect;
    this.total = 0;
    this.pages = new Map();
    this.generation = 0;
    this.selectedRow = null;
    this.pool = [];
    this.el.addEventListener('scroll', () => this.draw());
    new ResizeObserver(() => this.draw()).observe(this.el);
  }

  /** Drops what was fetched: the filter changed. */
  reset(total) {
    this.generation++;
    this.pages.clear();
    this.setTotal(total);
  }

  /** More events arrived (live). Pages that were short may now be longer. */
  setTotal(total) {
    const lastPage = Math.floor(Math.max(0, this.total - 1) / PAGE);
    this.pages.delete(lastPage);
    this.total = total;
    this.spacer.style.height = `${Math.min(total * this.h, MAX_PX)}px`;
    this.draw();
  }

  visibleCount() {
    return Math.ceil(this.el.clientHeight / this.h) + 1;
  }

  firstVisible() {
    const full = this.total * this.h;
    if (full <= MAX_PX) return Math.floor(this.el.scrollTop / this.h);
    const max = Math.max(1, this.spacer.offsetHeight - this.el.clientHeight);
    return Math.floor((this.el.scrollTop / max) * Math.max(0, this.total - this.visibleCount() + 1));
  }

  scrollToIndex(i, align = 'center') {
    if (i < 0) return;
    const full = this.total * this.h;
    const n = this.visibleCount();
    const target = align === 'end' ? i - n + 2 : align === 'center' ? i - Math.floor(n / 2) : i;
    const first = Math.max(0, Math.min(target, this.total - n + 1));
    if (full <= MAX_PX) this.el.scrollTop = first * this.h;
    else this.el.scrollTop = (first / Math.max(1, this.total - n + 1)) * Math.max(1, this.spacer.offsetHeight - this.el.clientHeight);
    this.draw();
  }

  atEnd() {
    return this.el.scrollTop + this.el.clientHeight >= this.spacer.offsetHeight - this.h;
  }

  select(row) {
    this.selectedRow = row;
    this.draw();
  }

  draw() {
    const first = this.firstVisible();
    const count = Math.min(this.visibleCount(), Math.max(0, this.total - first));
    const top = this.total * this.h <= MAX_PX ? first * this.h : this.el.scrollTop;
    while (this.pool.length < count) {
      const div = document.createElement('div');
      div.className = 'row';
      div.addEventListener('click', () => div.dataset.row && this.onSelect(Number(div.dataset.row)));
      this.el.appendChild(div);
      this.pool.push(div);
    }
    this.pool.forEach((div, k) => {
      if (k >= count) {
        div.hidden = true;
        return;
      }
      div.hidden = false;
      const index = first + k;
      div.style.top = `${top + k * this.h}px`;
      const row = this.rowAt(index);
      if (row) {
        this.render(div, row);
        div.dataset.row = String(row.row);
        div.classList.toggle('selected', row.row === this.selectedRow);
        div.classList.remove('loading');
      } else {
        div.textContent = '…';
        delete div.dataset.row;
        div.classList.remove('selected');
        div.classList.add('loading');
      }
    });
  }

  rowAt(index) {
    const p = Math.floor(index / PAGE);
    const page = this.pages.get(p);
    if (page === undefined) {
      this.load(p);
      return null;
    }
    if (page === 'loading') return null;
    return page[index - p * PAGE] ?? null;
  }

  async load(p) {
    this.pages.set(p, 'loading');
    const generation = this.generation;
    try {
      const r = await this.fetch(p * PAGE, PAGE);
      if (generation !== this.generation) return;
      this.pages.set(p, r.rows);
      if (r.total !== this.total) this.setTotal(r.total);
      else this.draw();
    } catch {
      if (generation === this.generation) this.pages.delete(p);
    }
  }
}
