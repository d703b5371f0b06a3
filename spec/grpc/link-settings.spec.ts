// The small decisions around the link: the registration link's {API_URL},
// the knobs that are ours (local gateway address, HTTP/2 ping interval), and
// which grpc-js tracers -debug-grpc / LOG_GRPC turn on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_URL_PLACEHOLDER, SAAS_API_URL, webApiUrl } from '../../adapters/grpc/credentials-adapter.js';
import { gatewayTuning } from '../../adapters/grpc/tuning.js';
import { grpcTraceEnv } from '../../adapters/grpc/grpc-trace.js';
import { parseGrpcAddress } from '../../config/hoop-env.js';

test("{API_URL} is hoop's SaaS unless HOOP_GRPCURL names a self-hosted gateway; API_URL wins", () => {
  assert.equal(webApiUrl({}, null), SAAS_API_URL);
  assert.equal(SAAS_API_URL, 'https://app.hoop.dev');
  assert.equal(webApiUrl({}, parseGrpcAddress('app.hoop.dev:8443')), SAAS_API_URL);
  assert.equal(webApiUrl({}, parseGrpcAddress('gw.corp:8443')), API_URL_PLACEHOLDER);
  assert.equal(API_URL_PLACEHOLDER, '{API_URL}');
  assert.equal(webApiUrl({ API_URL: 'https://hoop.corp/' }, parseGrpcAddress('gw.corp:8443')), 'https://hoop.corp');
});

test('REAGENT_LOCAL_GATEWAY must be loopback; REAGENT_GRPC_KEEPALIVE_MS is milliseconds', () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  assert.deepEqual(gatewayTuning({}, warn), {});
  assert.deepEqual(gatewayTuning({ REAGENT_LOCAL_GATEWAY: '127.0.0.1:9010' }, warn).localGateway, { host: '127.0.0.1', port: 9010 });
  assert.deepEqual(gatewayTuning({ REAGENT_LOCAL_GATEWAY: '[::1]:9010' }, warn).localGateway, { host: '::1', port: 9010 });
  assert.equal(gatewayTuning({ REAGENT_LOCAL_GATEWAY: '10.0.0.1:8010' }, warn).localGateway, undefined);
  assert.match(warnings.at(-1)!, /REAGENT_LOCAL_GATEWAY: expected a loopback HOST:PORT/);
  assert.deepEqual(gatewayTuning({ REAGENT_GRPC_KEEPALIVE_MS: '1000' }, warn).keepalive, { timeMs: 1000, timeoutMs: 1000 });
  assert.deepEqual(gatewayTuning({ REAGENT_GRPC_KEEPALIVE_MS: '90000' }, warn).keepalive, { timeMs: 90000, timeoutMs: 20000 });
  assert.deepEqual(gatewayTuning({ REAGENT_GRPC_KEEPALIVE_MS: '0' }, warn).keepalive, { timeMs: 0, timeoutMs: 1000 });
  assert.equal(gatewayTuning({ REAGENT_GRPC_KEEPALIVE_MS: '10s' }, warn).keepalive, undefined);
  assert.match(warnings.at(-1)!, /REAGENT_GRPC_KEEPALIVE_MS: expected milliseconds/);
});

test('-debug-grpc and LOG_GRPC=1 turn on connection tracers, LOG_GRPC=2 all of them; a GRPC_TRACE of your own wins', () => {
  assert.equal(grpcTraceEnv([], {}), null);
  assert.match(grpcTraceEnv(['start', 'agent', '--debug-grpc'], {})!.GRPC_TRACE, /subchannel.*keepalive/);
  assert.match(grpcTraceEnv(['-debug-grpc=true'], {})!.GRPC_TRACE, /transport/);
  assert.equal(grpcTraceEnv(['-debug-grpc=false'], {}), null);
  assert.equal(grpcTraceEnv(['exec', 'a', '--', 'tool', '--debug-grpc'], {}), null, 'a command argument is not our flag');
  assert.equal(grpcTraceEnv([], { LOG_GRPC: '2' })!.GRPC_TRACE, 'all');
  assert.equal(grpcTraceEnv([], { LOG_GRPC: '1' })!.GRPC_VERBOSITY, 'DEBUG');
  assert.equal(grpcTraceEnv(['--debug-grpc'], { GRPC_TRACE: 'keepalive' }), null);
});
