#!/usr/bin/env node
// A WAMP router for the studio-link tests: fox-wamp 0.7.28 on loopback, plus the
// Crossbar behaviours the agent relies on that fox-wamp lacks. Run as its own
// process and stopped by PID (SIGTERM):
//
//   node scripts/wamp-router.mjs --users users.json [--port 0] [--host 127.0.0.1] [--no-meta] [--inject]
//
// users.json: { "<authid>": { "secret": "...", "role": "device",
//                             "salt"?: "...", "iterations"?: 1000, "keylen"?: 32 } }
// A user with `salt` gets the PBKDF2-salted WAMP-CRA variant.
//
// When listening it prints one line on stdout:  ROUTER port=<port> pid=<pid>
// and, as sessions join and leave: SESSIONS authid=<authid> open=<n> peak=<m>
//
// What is added to fox-wamp (each is a documented Crossbar behaviour):
// - WAMP-CRA: fox-wamp has no CRA crypto; the auth handler below signs
//   challenges (HMAC-SHA256, base64; PBKDF2-derived key when salted).
//   Unknown authids get a challenge too and fail at AUTHENTICATE, so a client
//   cannot tell unknown users from wrong secrets.
// - Serializers: fox-wamp speaks only wamp.2.json; this listener negotiates
//   wamp.2.json and wamp.2.msgpack on one port.
// - REGISTER options: fox-wamp accepts any number of registrations of one URI;
//   here a second one fails with wamp.error.procedure_already_exists unless it
//   says `force_reregister: true`, which evicts the old one (Crossbar's rule,
//   which the Reagent's duplicate-serial guard depends on).
// - Caller disclosure: fox-wamp never discloses the caller; here a registration
//   with `disclose_caller: true` gets caller, caller_authid and caller_authrole
//   in INVOCATION details.
// - Arguments are forwarded verbatim: fox-wamp unwraps a one-element args list
//   (`[[a, b]]` arrives as `[a, b]`, `[null]` as no args).
// - Subscription meta API: wamp.subscription.on_create / on_subscribe /
//   on_unsubscribe / on_delete events and the wamp.subscription.match
//   procedure, for exact-match subscriptions (fox-wamp has no prefix matching).
// - Registration meta events: wamp.registration.on_register [sessionId,
//   {id, created, uri, match, invoke}] and wamp.registration.on_unregister
//   [sessionId, registrationId], also when a session leaves or a
//   force_reregister evicts a registration (the Reagent cleans up a terminal
//   when its frontend's registration goes away).
// `--no-meta` leaves the meta API out, as fox-wamp alone is.
// `--inject` (tests only: a hostile router) adds the procedure `test.inject`,
// kwargs {authid, frames: [string | {binary: base64}]}: each frame is written
// as it is to the WebSocket of every session of that authid, answering with
// the number of frames written. No real router does this; it is how tests send
// the agent messages no well-behaved router would forward.
// Left as fox-wamp does it: an application error raised by a callee reaches the
// caller as wamp.error.callee_failure with the original error URI as args[0]
// (Crossbar forwards the callee's URI, args and kwargs).
import { createRequire } from 'node:module';
import { createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const foxRequire = createRequire(require.resolve('fox-wamp'));
const FoxRouter = require('fox-wamp');
const { WampGate, WampSocketWriterContext } = foxRequire('./lib/wamp/gate');
const { BaseRealm, ActorReg } = foxRequire('./lib/realm');
const { RealmError } = foxRequire('./lib/realm_error');
const { restoreUri } = foxRequire('./lib/topic_pattern');
const MSG = foxRequire('./lib/messages');
const WebSocket = foxRequire('ws');
const msgpack = foxRequire('msgpack-lite');

const WAMP = { ERROR: 8, EVENT: 36, RESULT: 50, REGISTER: 64, INVOCATION: 68 };

function parseArgs(argv) {
  const out = { host: '127.0.0.1', port: 0, users: '', meta: true, inject: false };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--host') out.host = v, i++;
    else if (k === '--port') out.port = Number(v), i++;
    else if (k === '--users') out.users = v, i++;
    else if (k === '--no-meta') out.meta = false;
    else if (k === '--inject') out.inject = true;
    else throw new Error(`wamp-router: unknown argument ${k}`);
  }
  if (!out.users) throw new Error('wamp-router: --users FILE is required');
  return out;
}

const args = parseArgs(process.argv.slice(2));
const users = JSON.parse(readFileSync(args.users, 'utf8'));

// ---- arguments verbatim ---------------------------------------------------

function rawArgs(body) {
  if (body && typeof body === 'object' && 'args' in body) return Array.isArray(body.args) ? body.args : body.args == null ? [] : [body.args];
  if (body && typeof body === 'object' && 'kv' in body) return [body.kv];
  return body == null ? [] : [body];
}

WampSocketWriterContext.prototype.sendInvoke = function (cmd) {
  const details = {};
  if (cmd.opt && cmd.opt.receive_progress) details.receive_progress = true;
  for (const k of ['caller', 'caller_authid', 'caller_authrole']) if (cmd.opt && cmd.opt[k] !== undefined) details[k] = cmd.opt[k];
  this.wampSend([WAMP.INVOCATION, cmd.qid, cmd.subId, details, rawArgs(cmd.data), cmd.hdr || {}]);
};

const originalSendResult = WampSocketWriterContext.prototype.sendResult;
WampSocketWriterContext.prototype.sendResult = function (cmd) {
  if (cmd.err) return originalSendResult.call(this, cmd);
  const opt = cmd.rsp === 'EMIT' ? { progress: true } : {};
  this.wampSend([WAMP.RESULT, cmd.id, opt, rawArgs(cmd.data), cmd.hdr || {}]);
};

WampSocketWriterContext.prototype.sendEvent = function (cmd) {
  const details = { topic: restoreUri(cmd.uri), publisher: cmd.sid };
  if (cmd.opt && cmd.opt.retained) details.retained = true;
  this.wampSend([WAMP.EVENT, cmd.traceId, cmd.qid, details, rawArgs(cmd.data), cmd.hdr || {}]);
};

// ---- REGISTER options: force_reregister, disclose_caller ----------------

const originalHandle = WampGate.prototype.handle;
WampGate.prototype.handle = function (ctx, session, msg) {
  if (Array.isArray(msg) && msg[0] === WAMP.REGISTER) {
    if (!session.registerOptions) session.registerOptions = new Map();
    session.registerOptions.set(msg[1], msg[2] && typeof msg[2] === 'object' ? msg[2] : {});
  }
  return originalHandle.call(this, ctx, session, msg);
};

const originalRegister = BaseRealm.prototype.cmdRegRpc;
BaseRealm.prototype.cmdRegRpc = function (ctx, cmd) {
  const session = ctx.getSession();
  const options = (session.registerOptions && session.registerOptions.get(cmd.id)) || {};
  if (session.registerOptions) session.registerOptions.delete(cmd.id);
  const uri = restoreUri(cmd.uri);
  const existing = Object.values(this.engine.getSubStack(uri));
  if (existing.length > 0) {
    if (options.force_reregister !== true) {
      throw new RealmError(cmd.id, 'wamp.error.procedure_already_exists', `procedure <${uri}> is already registered`);
    }
    for (const old of existing) {
      const owner = old.ctx.getSession();
      owner.removeSub(this.engine, old.subId);
      this.emit(MSG.ON_UNREGISTERED, old);
    }
  }
  const subId = originalRegister.call(this, ctx, cmd);
  const actor = session.getSub(subId);
  if (actor) actor.discloseCaller = options.disclose_caller === true;
  return subId;
};

ActorReg.prototype.callWorker = function (taskD) {
  this.taskRequested();
  taskD.setRegistration(this);
  this.getSessionRealm().engine.qYield.addDefer(taskD, taskD.taskId);
  const opt = taskD.getOpt();
  if (this.discloseCaller) {
    const caller = taskD.ctx.getSession();
    const user = typeof caller.getUserDetails === 'function' ? caller.getUserDetails() || {} : {};
    opt.caller = caller.sessionId;
    opt.caller_authid = user.authid ?? (caller.secureDetails && caller.secureDetails.authid) ?? null;
    opt.caller_authrole = user.role ?? null;
  }
  try {
    this.ctx.sendInvoke({ id: this.msg.id, qid: taskD.taskId, uri: taskD.getUri(), subId: this.subId, hdr: taskD.getHeaders(), data: taskD.getData(), opt });
  } catch (e) {
    this.ctx.setSendFailed(e);
    throw e;
  }
};

// ---- router, subscription meta API ------------------------------------------

const router = new FoxRouter();

// Joined sessions per authid, printed as they change: a device must never hold
// two at once (tests read the peak from these lines).
//   SESSIONS authid=<authid> open=<n> peak=<m>
const sessionsByAuthid = new Map();
router.on(MSG.REALM_CREATED, (realm) => {
  const authidOf = (session) => (session.secureDetails && session.secureDetails.authid) || 'anonymous';
  const count = (session, delta) => {
    const authid = authidOf(session);
    const c = sessionsByAuthid.get(authid) ?? { open: 0, peak: 0 };
    c.open += delta;
    c.peak = Math.max(c.peak, c.open);
    sessionsByAuthid.set(authid, c);
    process.stdout.write(`SESSIONS authid=${authid} open=${c.open} peak=${c.peak}\n`);
  };
  realm.on(MSG.SESSION_JOIN, (session) => count(session, 1));
  realm.on(MSG.SESSION_LEAVE, (session) => count(session, -1));
});

router.on(MSG.REALM_CREATED, (realm) => {
  if (!args.meta) return;
  const api = realm.wampApi();
  /** uri -> { id, created, subscribers: Map<actor, sessionId> } */
  const topics = new Map();
  let nextId = 1;
  const isTrace = (actor) => !(actor instanceof ActorReg);

  const added = (actor) => {
    if (!isTrace(actor)) return;
    const uri = restoreUri(actor.getUri());
    if (uri.startsWith('wamp.')) return;
    const sid = actor.getSid();
    let topic = topics.get(uri);
    const fresh = !topic;
    if (!topic) {
      topic = { id: nextId++, created: new Date().toISOString(), subscribers: new Map() };
      topics.set(uri, topic);
    }
    topic.subscribers.set(actor, sid);
    if (fresh) api.publish('wamp.subscription.on_create', [sid, { id: topic.id, created: topic.created, uri, match: 'exact' }]);
    api.publish('wamp.subscription.on_subscribe', [sid, topic.id]);
  };

  const removed = (actor, sid) => {
    const uri = restoreUri(actor.getUri());
    const topic = topics.get(uri);
    if (!topic || !topic.subscribers.delete(actor)) return;
    api.publish('wamp.subscription.on_unsubscribe', [sid, topic.id]);
    if (topic.subscribers.size === 0) {
      topics.delete(uri);
      api.publish('wamp.subscription.on_delete', [sid, topic.id]);
    }
  };

  realm.on(MSG.ON_SUBSCRIBED, added);
  realm.on(MSG.ON_UNSUBSCRIBED, (actor) => isTrace(actor) && removed(actor, actor.getSid()));
  // fox-wamp drops a leaving session's subscriptions without ON_UNSUBSCRIBED
  realm.on(MSG.SESSION_LEAVE, (session) => {
    for (const topic of [...topics.values()]) {
      for (const [actor, sid] of [...topic.subscribers]) if (sid === session.sessionId) removed(actor, sid);
    }
  });

  /** registration actor -> the session that holds it, for on_unregister when it leaves. */
  const registrations = new Map();
  realm.on(MSG.ON_REGISTERED, (actor) => {
    const uri = restoreUri(actor.getUri());
    if (uri.startsWith('wamp.')) return;
    const sid = actor.getSid();
    registrations.set(actor, sid);
    api.publish('wamp.registration.on_register', [sid, { id: actor.subId, created: new Date().toISOString(), uri, match: 'exact', invoke: 'single' }]);
  });
  const unregistered = (actor) => {
    const sid = registrations.get(actor);
    if (sid === undefined) return;
    registrations.delete(actor);
    api.publish('wamp.registration.on_unregister', [sid, actor.subId]);
  };
  realm.on(MSG.ON_UNREGISTERED, unregistered);
  // fox-wamp drops a leaving session's registrations without ON_UNREGISTERED
  realm.on(MSG.SESSION_LEAVE, (session) => {
    for (const [actor, sid] of [...registrations]) if (sid === session.sessionId) unregistered(actor);
  });

  api.register('wamp.subscription.match', (qid, callArgs) => {
    const uri = Array.isArray(callArgs) ? callArgs[0] : callArgs;
    const topic = typeof uri === 'string' ? topics.get(uri) : undefined;
    api.resrpc(qid, null, [topic ? [topic.id] : null]);
  });
});

// ---- test.inject: raw frames to a session (--inject) -----------------------

/** Every open connection: its WebSocket and its router session. */
const connections = new Set();

function authidOf(session) {
  const user = typeof session.getUserDetails === 'function' ? session.getUserDetails() || {} : {};
  return user.authid ?? (session.secureDetails && session.secureDetails.authid) ?? null;
}

router.on(MSG.REALM_CREATED, (realm) => {
  if (!args.inject) return;
  const api = realm.wampApi();
  api.register('test.inject', (qid, _callArgs, kwargs) => {
    const frames = kwargs && Array.isArray(kwargs.frames) ? kwargs.frames : [];
    let written = 0;
    for (const { ws, session } of connections) {
      if (authidOf(session) !== (kwargs && kwargs.authid) || ws.readyState !== WebSocket.OPEN) continue;
      for (const f of frames) {
        if (typeof f === 'string') ws.send(f, { binary: false });
        else if (f && typeof f.binary === 'string') ws.send(Buffer.from(f.binary, 'base64'), { binary: true });
        else continue;
        written++;
      }
    }
    api.resrpc(qid, null, [written]);
  });
});

// ---- WAMP-CRA -------------------------------------------------------------

function expectedSignature(user, challenge) {
  const key = user.salt ? pbkdf2Sync(user.secret, user.salt, user.iterations ?? 1000, user.keylen ?? 32, 'sha256').toString('base64') : user.secret;
  return createHmac('sha256', key).update(challenge).digest('base64');
}

const auth = {
  getAuthMethods: () => ['wampcra'],
  wampcra_extra(realm, details, cb) {
    const user = users[details.authid];
    const challenge = JSON.stringify({
      nonce: randomBytes(16).toString('base64'),
      authprovider: 'test-router',
      authid: details.authid,
      timestamp: new Date().toISOString(),
      authrole: user ? user.role : 'nobody',
      authmethod: 'wampcra',
      session: 0,
    });
    details.challengeText = challenge;
    const extra = { challenge };
    if (user && user.salt) Object.assign(extra, { salt: user.salt, iterations: user.iterations ?? 1000, keylen: user.keylen ?? 32 });
    cb(undefined, extra);
  },
  wampcra_auth(realm, details, signature, extra, cb) {
    const user = users[details.authid];
    if (!user || typeof signature !== 'string') return cb(new Error('authentication_failed'));
    const want = Buffer.from(expectedSignature(user, details.challengeText));
    const got = Buffer.from(signature);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return cb(new Error('authentication_failed'));
    cb(undefined, { role: user.role, authid: details.authid });
  },
};

// ---- transport: wamp.2.json and wamp.2.msgpack on one port -------------------

const SERIALIZERS = {
  'wamp.2.json': { binary: false, encode: (m) => JSON.stringify(m), decode: (d) => JSON.parse(d.toString('utf8')) },
  'wamp.2.msgpack': { binary: true, encode: (m) => msgpack.encode(m), decode: (d) => msgpack.decode(d) },
};

const gate = new WampGate(router);
gate.setAuthHandler(auth);

const server = new WebSocket.Server({
  host: args.host,
  port: args.port,
  handleProtocols: (protocols) => [...protocols].find((p) => p in SERIALIZERS) ?? false,
});

server.on('connection', (ws) => {
  const serializer = SERIALIZERS[ws.protocol];
  const session = router.createSession();
  session.setGateProtocol(ws.protocol);
  const writer = {
    wampPkgWrite(msg, callback) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(serializer.encode(msg), { binary: serializer.binary }, (err) => {
        if (typeof callback === 'function') callback(err);
        else if (err) ws.terminate();
      });
    },
    wampPkgClose(code, reason) {
      ws.close(code, reason);
    },
  };
  const connection = { ws, session };
  connections.add(connection);
  ws.on('error', () => {});
  ws.on('close', () => {
    connections.delete(connection);
    router.removeSession(session);
  });
  ws.on('message', (data) => {
    const ctx = gate.createContext(session, writer);
    let msg;
    try {
      msg = serializer.decode(data);
    } catch {
      ctx.wampClose(1003, 'protocol violation: undecodable message');
      return;
    }
    try {
      gate.handle(ctx, session, msg);
    } catch (err) {
      process.stderr.write(`wamp-router: ${err && err.stack ? err.stack : err}\n`);
      ctx.wampClose(1011, 'internal error');
    }
  });
});

server.on('listening', () => {
  process.stdout.write(`ROUTER port=${server.address().port} pid=${process.pid}\n`);
});
server.on('error', (err) => {
  process.stderr.write(`wamp-router: ${err.message}\n`);
  process.exit(1);
});

const stop = () => {
  for (const ws of server.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
