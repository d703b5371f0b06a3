// A WAMP client that writes frames as text it was given, for fuzzing through
// the router: autobahn (and JSON.stringify) cannot send a payload nested
// thousands deep, so CALLs are assembled from pre-serialized argument text.
// WAMP-CRA as the router implements it (HMAC-SHA256 of the challenge, base64).
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';

export interface CallReply {
  /** 'result', 'error', 'closed' (the connection went first) or 'timeout' (no answer at all). */
  kind: 'result' | 'error' | 'closed' | 'timeout';
  error?: string;
  args?: unknown;
}

export class RawWampClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: CallReply) => void>();
  private closedReason: string | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      let m: unknown;
      try {
        m = JSON.parse(data.toString('utf8'));
      } catch {
        return;
      }
      if (!Array.isArray(m)) return;
      if (m[0] === 50 && typeof m[1] === 'number') this.settle(m[1], { kind: 'result', args: m[3] });
      else if (m[0] === 8 && m[1] === 48 && typeof m[2] === 'number') this.settle(m[2], { kind: 'error', error: String(m[4]), args: m[5] });
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closedReason = `closed ${code} ${reason.toString()}`;
      for (const [id] of this.waiting) this.settle(id, { kind: 'closed', error: this.closedReason });
    });
  }

  static connect(url: string, realm: string, authid: string, secret: string): Promise<RawWampClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ['wamp.2.json'], { maxPayload: 64 * 1024 * 1024 });
      const fail = (why: string) => {
        ws.terminate();
        reject(new Error(`raw WAMP client ${authid}: ${why}`));
      };
      ws.once('error', (e) => fail(e.message));
      ws.once('open', () => ws.send(JSON.stringify([1, realm, { roles: { caller: {}, publisher: {} }, authmethods: ['wampcra'], authid }])));
      const onHandshake = (data: Buffer) => {
        const m = JSON.parse(data.toString('utf8')) as unknown[];
        if (m[0] === 4) {
          const challenge = String((m[2] as { challenge?: unknown }).challenge);
          ws.send(JSON.stringify([5, createHmac('sha256', secret).update(challenge).digest('base64'), {}]));
        } else if (m[0] === 2) {
          ws.off('message', onHandshake);
          resolve(new RawWampClient(ws));
        } else {
          fail(`handshake answered with ${JSON.stringify(m).slice(0, 200)}`);
        }
      };
      ws.on('message', onHandshake);
    });
  }

  get closed(): string | null {
    return this.closedReason;
  }

  /** Sends `[CALL, id, {}, procedure, <argsText>, <kwargsText>]` and resolves with the answer. */
  call(procedure: string, argsText: string, kwargsText: string, timeoutMs: number): Promise<CallReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      if (this.closedReason) return resolve({ kind: 'closed', error: this.closedReason });
      const timer = setTimeout(() => this.settle(id, { kind: 'timeout', error: `no answer within ${timeoutMs} ms` }), timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.ws.send(`[48,${id},{},${JSON.stringify(procedure)},${argsText},${kwargsText}]`);
    });
  }

  close(): void {
    this.ws.close();
  }

  private settle(id: number, r: CallReply): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    w(r);
  }
}
