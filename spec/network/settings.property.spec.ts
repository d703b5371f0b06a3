// Properties of the pure network code: access point facts, connection
// settings edits, address encodings, password rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import fc from 'fast-check';
import { Variant } from '@particle/dbus-next';
import {
  forUpdate,
  ipv4FromNetworkOrder,
  ipv4ToNetworkOrder,
  isIpv4,
  passwordProblem,
  ssidOf,
  wifiConnection,
  withDhcp,
  withInfiniteRetries,
  withSecrets,
  withStaticIpv4,
  type Settings,
} from '../../adapters/network/connection-settings.js';
import { AP_FLAG_PRIVACY, AP_SEC, apSecurity, channelOf } from '../../adapters/network/wifi-facts.js';
import { CONFIGURABLE_SECURITY } from '../../adapters/network/service.js';

test('channelOf: the 802.11 channel plan, and 0 off it', () => {
  for (let ch = 1; ch <= 13; ch++) assert.equal(channelOf(2407 + 5 * ch), ch);
  assert.equal(channelOf(2484), 14);
  for (const ch of [36, 40, 44, 48, 52, 100, 149, 165, 177]) assert.equal(channelOf(5000 + 5 * ch), ch);
  for (const ch of [1, 5, 33, 233]) assert.equal(channelOf(5950 + 5 * ch), ch);
  assert.equal(channelOf(5935), 2);
  assert.equal(channelOf(58320), 1);
  for (const off of [0, 2400, 2411, 2413, 5001, 100_000]) assert.equal(channelOf(off), 0);
  fc.assert(
    fc.property(fc.integer({ min: -1, max: 200_000 }), (mhz) => {
      const ch = channelOf(mhz);
      return Number.isInteger(ch) && ch >= 0 && ch <= 233;
    }),
  );
});

test('apSecurity: WEP bits win, then PSK, SAE, 802.1X, OWE; no flags is open unless the privacy bit says WEP', () => {
  assert.equal(apSecurity(0, 0, 0), 'none');
  assert.equal(apSecurity(AP_FLAG_PRIVACY, 0, 0), 'wep');
  assert.equal(apSecurity(1, 0, AP_SEC.keyMgmtPsk | 0x8), 'wpa-psk');
  assert.equal(apSecurity(1, AP_SEC.keyMgmtPsk, 0), 'wpa-psk', 'WPA flags when there are no RSN flags');
  assert.equal(apSecurity(1, 0, AP_SEC.keyMgmtSae), 'sae');
  assert.equal(apSecurity(1, 0, AP_SEC.keyMgmtSae | AP_SEC.keyMgmtPsk), 'wpa-psk', 'WPA2/WPA3 transition mode');
  assert.equal(apSecurity(1, 0, AP_SEC.keyMgmt8021x), 'wpa-eap');
  assert.equal(apSecurity(1, AP_SEC.pairWep40 | AP_SEC.keyMgmt8021x, 0), 'ieee8021x');
  assert.equal(apSecurity(0, 0, AP_SEC.keyMgmtOwe), 'owe');
  fc.assert(
    fc.property(fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffff), (flags, wpa, rsn) => {
      const s = apSecurity(flags, wpa, rsn);
      const sec = rsn !== 0 ? rsn : wpa;
      if ((sec & 0x33) !== 0) return s === 'wep' || s === 'ieee8021x';
      if (sec !== 0 && (sec & AP_SEC.keyMgmtPsk) !== 0) return s === 'wpa-psk';
      return ['none', 'wep', 'sae', 'wpa-eap', 'owe', 'unknown'].includes(s);
    }),
  );
});

test('ipv4 in network byte order: the bytes in memory are the address, on either byte order', () => {
  assert.equal(ipv4ToNetworkOrder('10.0.0.1', true), 0x0100000a);
  assert.equal(ipv4ToNetworkOrder('10.0.0.1', false), 0x0a000001);
  const quad = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  fc.assert(
    fc.property(quad, fc.boolean(), (a, le) => {
      const n = ipv4ToNetworkOrder(a, le);
      return n >= 0 && n <= 0xffffffff && ipv4FromNetworkOrder(n, le) === a;
    }),
  );
});

test('isIpv4 agrees with node:net on dotted quads', () => {
  fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.string({ maxLength: 20 }), fc.ipV6()), (s) => isIpv4(s) === isIPv4(s)));
  for (const bad of ['01.2.3.4', '1.2.3', '1.2.3.4.5', '256.1.1.1', ' 1.2.3.4']) assert.equal(isIpv4(bad), false, bad);
});

test('passwordProblem: the rules per security type, and the message never quotes the password', () => {
  assert.equal(passwordProblem('wpa-psk', 'a'.repeat(8)), null);
  assert.equal(passwordProblem('wpa-psk', 'f'.repeat(64)), null);
  assert.notEqual(passwordProblem('wpa-psk', 'g'.repeat(64)), null);
  assert.notEqual(passwordProblem('wpa-psk', 'seven77'), null);
  assert.equal(passwordProblem('none', ''), null);
  assert.notEqual(passwordProblem('none', 'x'), null);
  assert.equal(passwordProblem('wep', '12345'), null);
  assert.equal(passwordProblem('wep', '0123456789'), null);
  assert.notEqual(passwordProblem('wep', '1234567'), null);
  // Characters none of the messages use, so a quoted password would show.
  const secretish = fc.string({ unit: fc.constantFrom('§', 'µ', 'Ω', 'ж', '☃', '#'), minLength: 1, maxLength: 140 });
  fc.assert(
    fc.property(fc.constantFrom(...CONFIGURABLE_SECURITY), secretish, (sec, pw) => {
      const p = passwordProblem(sec, pw);
      return p === null || !p.includes(pw);
    }),
  );
});

const variant = fc.oneof(fc.string().map((s) => new Variant('s', s)), fc.integer().map((n) => new Variant('i', n)));
const settingsArb: fc.Arbitrary<Settings> = fc.dictionary(
  fc.constantFrom('connection', 'ipv4', 'ipv6', '802-11-wireless', '802-11-wireless-security', 'bridge'),
  fc.dictionary(fc.constantFrom('method', 'addresses', 'routes', 'address-data', 'route-data', 'gateway', 'dns', 'id', 'psk', 'autoconnect-retries'), variant),
);

test('settings edits: never touch their input; Update-ready (no deprecated addresses/routes); do what they say', () => {
  fc.assert(
    fc.property(settingsArb, (s) => {
      const snapshot = JSON.stringify(s);
      const edits = [forUpdate(s), withInfiniteRetries(s), withDhcp(s), withStaticIpv4(s, { address: '10.1.2.3', prefix: 8, gateway: '10.0.0.1', dns: ['1.1.1.1'] })];
      assert.equal(JSON.stringify(s), snapshot, 'input unchanged');
      for (const e of edits) for (const ip of ['ipv4', 'ipv6']) assert.ok(!e[ip]?.addresses && !e[ip]?.routes);
      assert.equal(edits[1]!.connection?.['autoconnect-retries']?.value, 0);
      assert.equal(edits[2]!.ipv4?.method?.value, 'auto');
      assert.equal(edits[2]!.ipv4?.['address-data'], undefined);
      assert.equal(edits[2]!.ipv4?.gateway, undefined);
      assert.equal(edits[3]!.ipv4?.method?.value, 'manual');
      assert.equal(edits[3]!.ipv4?.['address-data']?.signature, 'aa{sv}');
      assert.equal(edits[3]!.ipv4?.gateway?.value, '10.0.0.1');
      // Everything else survives.
      for (const e of edits) for (const [name, set] of Object.entries(s)) for (const key of Object.keys(set)) {
        const dropped = ((name === 'ipv4' || name === 'ipv6') && (key === 'addresses' || key === 'routes')) || name === 'ipv4' || (name === 'connection' && key === 'autoconnect-retries');
        if (!dropped) assert.equal(e[name]?.[key], set[key]);
      }
    }),
  );
});

test('withSecrets adds what GetSecrets gave without overwriting, and only into settings that exist', () => {
  const s: Settings = { '802-11-wireless-security': { 'key-mgmt': new Variant('s', 'wpa-psk') } };
  const out = withSecrets(s, [{ '802-11-wireless-security': { psk: new Variant('s', 'pw'), 'key-mgmt': new Variant('s', 'x') } }, { '802-1x': { password: new Variant('s', 'p') } }]);
  assert.equal(out['802-11-wireless-security']?.psk?.value, 'pw');
  assert.equal(out['802-11-wireless-security']?.['key-mgmt']?.value, 'wpa-psk');
  assert.equal(out['802-1x'], undefined);
  assert.equal(s['802-11-wireless-security']?.psk, undefined, 'input unchanged');
});

test('wifiConnection: the SSID as bytes, priority, infinite retries; security per type', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 32 }), fc.nat(999), fc.constantFrom(...CONFIGURABLE_SECURITY), (ssid, priority, security) => {
      const s = wifiConnection({ ssid, security, password: 'pw-123456', priority, uuid: 'u' });
      assert.equal(ssidOf(s), Buffer.from(ssid, 'utf8').toString('utf8'));
      assert.equal(s['802-11-wireless']?.ssid?.signature, 'ay');
      assert.equal(s.connection?.['autoconnect-priority']?.value, priority);
      assert.equal(s.connection?.['autoconnect-retries']?.value, 0);
      const sec = s['802-11-wireless-security'];
      if (security === 'none') assert.equal(sec, undefined);
      else assert.equal(sec?.['key-mgmt']?.value, security);
      if (security === 'wep') assert.equal(sec?.['wep-key0']?.value, 'pw-123456');
      if (security === 'wpa-psk' || security === 'sae') assert.equal(sec?.psk?.value, 'pw-123456');
    }),
  );
});
