// The page's one WebSocket to the agent: requests with ids and their replies,
// plus the messages the agent pushes (hello, grow). The cookie the page got
// for its token authenticates the socket.
export class Rpc {
  constructor(onPush, onStatus) {
    this.onPush = onPush;
    this.onStatus = onStatus;
    this.next = 1;
    this.waiting = new Map();
    this.connect();
  }

  connect() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => this.onStatus('connected');
    ws.onclose = () => {
      this.onStatus('disconnected');
      for (const { reject } of this.waiting.values()) reject(new Error('connection closed'));
      this.waiting.clear();
    };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === 'reply') {
        const w = this.waiting.get(msg.id);
        if (w) {
          this.waiting.delete(msg.id);
          w.resolve(msg);
        }
      } else {
        this.onPush(msg);
      }
    };
  }

  call(op, args = {}) {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) return reject(new Error('not connected'));
      const id = this.next++;
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, op, ...args }));
    });
  }
}

/** Runs the newest of overlapping requests only: sliders fire faster than answers come back. */
export function latestOnly(fn) {
  let running = false;
  let queued = null;
  const run = async (args) => {
    running = true;
    try {
      await fn(...args);
    } finally {
      running = false;
      if (queued) {
        const next = queued;
        queued = null;
        run(next);
      }
    }
  };
  return (...args) => {
    if (running) queued = args;
    else run(args);
  };
}
