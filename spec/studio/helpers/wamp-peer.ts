// A plain autobahn client for the test peers (backend simulator, studio
// client): autobahn.Connection as a browser or the IronFlock backend would use
// it, independent of the agent's own WAMP code. Retries off: a peer that loses
// the router is reconnected by its test, explicitly.
import autobahn from 'autobahn';

type AnySession = autobahn.Session;

export interface Peer {
  session: AnySession;
  /** Resolves once the connection is closed for good. */
  closed: Promise<string>;
  close(): Promise<void>;
}

// autobahn.Connection logs every close through console.warn; the peers' closes are expected.
(autobahn as unknown as { log: { warn: (...a: unknown[]) => void } }).log.warn = () => {};

export function connectPeer(url: string, authid: string, secret: string): Promise<Peer> {
  return new Promise((resolve, reject) => {
    let resolveClosed!: (reason: string) => void;
    const closed = new Promise<string>((r) => (resolveClosed = r));
    let opened = false;
    const connection = new autobahn.Connection({
      url,
      realm: 'realm1',
      authmethods: ['wampcra'],
      authid,
      max_retries: 0,
      retry_if_unreachable: false,
      onchallenge: (_s: AnySession, _m: string, extra: { challenge: string }) => autobahn.auth_cra.sign(secret, extra.challenge),
      on_user_error: () => {},
      on_internal_error: () => {},
    } as unknown as autobahn.IConnectionOptions);
    connection.onopen = (session) => {
      opened = true;
      resolve({
        session,
        closed,
        close: () =>
          new Promise<void>((done) => {
            closed.then(() => done());
            try {
              connection.close();
            } catch {
              done();
            }
          }),
      });
    };
    connection.onclose = (reason: string, details: { reason?: string }) => {
      resolveClosed(reason);
      if (!opened) reject(new Error(`peer ${authid} could not connect: ${reason} ${details?.reason ?? ''}`));
      return true;
    };
    connection.open();
  });
}

/** A call's outcome as data: `{ok, args, kwargs}` or `{error, args}` (fox-wamp wraps callee errors in callee_failure). */
export type CallOutcome = { ok: true; args: unknown[]; kwargs: Record<string, unknown> } | { ok: false; error: string; args: unknown[]; kwargs: Record<string, unknown> };

export async function callOutcome(session: AnySession, procedure: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<CallOutcome> {
  try {
    const r: unknown = await session.call(procedure, args, kwargs);
    if (r instanceof autobahn.Result) return { ok: true, args: r.args ?? [], kwargs: r.kwargs ?? {} };
    return { ok: true, args: r === null || r === undefined ? [] : [r], kwargs: {} };
  } catch (err) {
    if (err instanceof autobahn.Error) return { ok: false, error: err.error, args: err.args ?? [], kwargs: err.kwargs ?? {} };
    throw err;
  }
}

/** The application error a callee raised, through fox-wamp's callee_failure wrapping (or directly, as Crossbar does). */
export function applicationError(o: CallOutcome): string | undefined {
  if (o.ok) return undefined;
  if (o.error === 'wamp.error.callee_failure' && typeof o.args[0] === 'string') return o.args[0];
  return o.error;
}
