// proto/transport.proto must stay wire-compatible with hoop's: method paths,
// field numbers and types, checked on the descriptor, on hand-written bytes
// and through a real grpc-js stream.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { decodeConnectionParams, emptyConnectionParams, encodeConnectionParams } from '../../adapters/grpc/gob/connection-params.js';
import { AgentPacket, SpecKey, TransportMethod } from '../../adapters/grpc/wire-names.js';

const PROTO = fileURLToPath(new URL('../../proto/transport.proto', import.meta.url));
const OPTIONS: protoLoader.Options = { keepCase: true, defaults: true };

interface Packet {
  component: string;
  type: string;
  spec: Record<string, Buffer>;
  payload: Buffer;
}

/** The slice of descriptor.proto's FieldDescriptorProto that proto-loader exposes. */
interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}

interface MessageDescriptor {
  field: FieldDescriptor[];
  nestedType: (MessageDescriptor & { name: string; options: { mapEntry: boolean } | null })[];
}

function loadDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO, OPTIONS);
}

function service(def: protoLoader.PackageDefinition): protoLoader.ServiceDefinition {
  const s = def['protobuf.Transport'];
  assert.ok(s && !('format' in s), 'protobuf.Transport is not a service');
  return s as protoLoader.ServiceDefinition;
}

function message(def: protoLoader.PackageDefinition, name: string): MessageDescriptor {
  const m = def[`protobuf.${name}`];
  assert.ok(m && 'format' in m, `protobuf.${name} is not a message`);
  return (m as protoLoader.MessageTypeDefinition<object, object>).type as MessageDescriptor;
}

function fields(m: MessageDescriptor): [string, number, string, string][] {
  return m.field.map((f) => [f.name, f.number, f.label.replace('LABEL_', ''), f.type.replace('TYPE_', '')]);
}

describe('proto/transport.proto', () => {
  const def = loadDefinition();

  it('declares service protobuf.Transport with hoop method paths and streaming kinds', () => {
    const s = service(def);
    assert.deepStrictEqual(Object.keys(s).sort(), ['Connect', 'HealthCheck', 'PreConnect']);
    const shape = (m: grpc.MethodDefinition<unknown, unknown>) => [m.path, m.requestStream, m.responseStream];
    assert.deepStrictEqual(shape(s['Connect'] as grpc.MethodDefinition<unknown, unknown>), [TransportMethod.Connect, true, true]);
    assert.deepStrictEqual(shape(s['PreConnect'] as grpc.MethodDefinition<unknown, unknown>), [TransportMethod.PreConnect, false, false]);
    assert.deepStrictEqual(shape(s['HealthCheck'] as grpc.MethodDefinition<unknown, unknown>), [TransportMethod.HealthCheck, false, false]);
    assert.equal(TransportMethod.Connect, '/protobuf.Transport/Connect');
  });

  it('numbers Packet fields as hoop does', () => {
    const packet = message(def, 'Packet');
    assert.deepStrictEqual(fields(packet), [
      ['component', 1, 'OPTIONAL', 'STRING'],
      ['type', 2, 'OPTIONAL', 'STRING'],
      ['spec', 3, 'REPEATED', 'MESSAGE'],
      ['payload', 4, 'OPTIONAL', 'BYTES'],
    ]);
    const entry = packet.nestedType.find((n) => n.name === 'Spec');
    assert.ok(entry?.options?.mapEntry, 'spec is not a map');
    assert.deepStrictEqual(fields(entry), [
      ['key', 1, 'OPTIONAL', 'STRING'],
      ['value', 2, 'OPTIONAL', 'BYTES'],
    ]);
  });

  it('numbers the PreConnect and HealthCheck messages as hoop does', () => {
    assert.deepStrictEqual(fields(message(def, 'PreConnectRequest')), [
      ['name', 1, 'OPTIONAL', 'STRING'],
      ['type', 2, 'OPTIONAL', 'STRING'],
      ['subtype', 3, 'OPTIONAL', 'STRING'],
      ['command', 4, 'REPEATED', 'STRING'],
      ['envs', 5, 'REPEATED', 'MESSAGE'],
      ['reviewers', 6, 'REPEATED', 'STRING'],
      ['redact_types', 7, 'REPEATED', 'STRING'],
    ]);
    assert.deepStrictEqual(fields(message(def, 'PreConnectResponse')), [
      ['status', 1, 'OPTIONAL', 'STRING'],
      ['message', 2, 'OPTIONAL', 'STRING'],
    ]);
    assert.deepStrictEqual(fields(message(def, 'HealthCheckRequest')), []);
    assert.deepStrictEqual(fields(message(def, 'HealthCheckResponse')), [['status', 1, 'OPTIONAL', 'STRING']]);
  });

  it('serializes a Packet to the bytes a hoop peer expects', () => {
    const connect = service(def)['Connect'] as grpc.MethodDefinition<Partial<Packet>, Packet>;
    const bytes = connect.requestSerialize({
      component: 'c',
      type: 'AgentSessionOpen',
      spec: { 'gateway.session_id': Buffer.from('sid') },
      payload: Buffer.from([1, 2]),
    });
    // Written out by hand from the protobuf encoding rules: tag = number << 3 | wire type 2.
    const expected = Buffer.concat([
      Buffer.from([0x0a, 1]), Buffer.from('c'),
      Buffer.from([0x12, 16]), Buffer.from('AgentSessionOpen'),
      Buffer.from([0x1a, 25, 0x0a, 18]), Buffer.from('gateway.session_id'), Buffer.from([0x12, 3]), Buffer.from('sid'),
      Buffer.from([0x22, 2, 1, 2]),
    ]);
    assert.deepStrictEqual(bytes, expected);
  });
});

describe('a grpc-js Transport server and client over proto/transport.proto', () => {
  let server: grpc.Server;
  let client: grpc.Client & Record<string, unknown>;

  before(async () => {
    const def = loadDefinition();
    const loaded = grpc.loadPackageDefinition(def) as unknown as { protobuf: { Transport: grpc.ServiceClientConstructor } };
    const Transport = loaded.protobuf.Transport;
    server = new grpc.Server();
    server.addService(Transport.service, {
      Connect: (call: grpc.ServerDuplexStream<Packet, Packet>) => {
        call.on('data', (p: Packet) => call.write(p));
        call.on('end', () => call.end());
      },
      HealthCheck: (_call: grpc.ServerUnaryCall<object, object>, done: grpc.sendUnaryData<{ status: string }>) => done(null, { status: 'OK' }),
      PreConnect: (call: grpc.ServerUnaryCall<{ name: string }, object>, done: grpc.sendUnaryData<{ status: string; message: string }>) =>
        done(null, { status: 'CONNECT', message: call.request.name }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new Transport(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, unknown>;
  });

  after(() => {
    client?.close();
    server?.forceShutdown();
  });

  it('echoes a Packet with spec bytes and payload over the Connect stream', async () => {
    const params = encodeConnectionParams({ ...emptyConnectionParams(), ConnectionName: 'pg', EnvVars: { 'envvar:HOST': 'ZGI=' } });
    const sent: Packet = {
      component: '',
      type: AgentPacket.SessionOpen,
      spec: {
        [SpecKey.GatewaySessionID]: Buffer.from('0b8e7f2a-sid'),
        [SpecKey.AgentConnectionParams]: Buffer.from(params),
        binary: Buffer.from([0, 255, 128, 10]),
      },
      payload: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]),
    };
    const connect = client['Connect'] as (md?: grpc.Metadata) => grpc.ClientDuplexStream<Packet, Packet>;
    const metadata = new grpc.Metadata();
    metadata.set('origin', 'agent');
    const call = connect.call(client, metadata);
    const received = new Promise<Packet[]>((resolve, reject) => {
      const got: Packet[] = [];
      call.on('data', (p: Packet) => got.push(p));
      call.on('end', () => resolve(got));
      call.on('error', reject);
    });
    call.write(sent);
    call.write({ component: '', type: 'GatewayKeepAlive', spec: {}, payload: Buffer.alloc(0) });
    call.end();
    const [echo, keepAlive] = await received;
    assert.deepStrictEqual(echo, sent);
    assert.deepStrictEqual(keepAlive, { component: '', type: 'GatewayKeepAlive', spec: {}, payload: Buffer.alloc(0) });
    const decoded = decodeConnectionParams(new Uint8Array(echo?.spec[SpecKey.AgentConnectionParams] ?? []));
    assert.ok(decoded.ok);
    assert.deepStrictEqual(decoded.value.EnvVars, { 'envvar:HOST': 'ZGI=' });
  });

  it('answers the unary HealthCheck and PreConnect calls', async () => {
    const unary = <Req, Res>(name: string, req: Req) =>
      new Promise<Res>((resolve, reject) =>
        (client[name] as (r: Req, cb: (e: grpc.ServiceError | null, v: Res) => void) => void).call(client, req, (e, v) => (e ? reject(e) : resolve(v))),
      );
    assert.deepStrictEqual(await unary('HealthCheck', {}), { status: 'OK' });
    assert.deepStrictEqual(await unary('PreConnect', { name: 'agent-1', command: ['psql'], envs: { A: 'b' } }), { status: 'CONNECT', message: 'agent-1' });
  });
});
