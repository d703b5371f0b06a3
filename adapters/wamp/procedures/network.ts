// The device's networking (the Reagent's api/wifi.go, api/ethernet.go,
// api/get_network_metadata.go): payloads validated here, the work done by the
// NetworkService (adapters/network/). Its failures reach the caller as the
// Reagent's `wamp.error.canceled` with `args[0].error`, e.g.
// "list_wifi_networks: network management unavailable on this device: …".
//
// scan_wifi_networks has no privilege check in the Reagent (a TODO); here it
// needs NETWORK, like every procedure that makes the radio do something.
// A Wi-Fi password never appears in a message: errors about it give its length.
import { CONFIGURABLE_SECURITY, NetworkRequestFailed, NetworkUnavailable, type ConfigurableSecurity } from '../../network/service.js';
import { isIpv4, passwordProblem } from '../../network/connection-settings.js';
import { result, type ProcedureDef } from '../device-api.js';
import { DeviceApiError, invalidArgument, WAMP_ERRORS } from '../errors.js';
import { networkMetadata } from '../host-info.js';
import { fail, firstArgObject, requireString, requireUint, type Obj } from '../validate.js';
import type { ProcedureDeps } from './deps.js';

const ARG = 'args[0].';
const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
/** NetworkManager's range of autoconnect-priority. */
export const MAX_PRIORITY = 999;

/** NetworkService failures as the caller receives them. */
async function answer<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof NetworkUnavailable || err instanceof NetworkRequestFailed) throw new DeviceApiError(WAMP_ERRORS.canceled, err.message);
    throw err;
  }
}

/** An SSID is 1 to 32 bytes. */
function ssidField(o: Obj, key = 'ssid'): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '' || Buffer.byteLength(v, 'utf8') > 32) throw fail(`${ARG}${key}`, 'an SSID of 1 to 32 bytes', v);
  return v;
}

/** A BSSID/MAC `aa:bb:cc:dd:ee:ff`; "" or absent when `optional`. */
function macField(o: Obj, key: string, optional: boolean): string {
  const v = o[key];
  if (optional && (v === undefined || v === null || v === '')) return '';
  if (typeof v !== 'string' || !MAC.test(v)) throw fail(`${ARG}${key}`, optional ? 'a MAC address like 00:11:22:33:44:55, or nothing' : 'a MAC address like 00:11:22:33:44:55', v);
  return v;
}

/** The password is described by its length only: `fail` would quote the start of it. */
function passwordField(o: Obj): string {
  const v = o.password;
  const field = `${ARG}password`;
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalidArgument(`field "${field}": expected a string, got ${Array.isArray(v) ? 'an array' : typeof v}`, field, 'a string');
  if (v.length > 128) throw invalidArgument(`field "${field}": expected at most 128 characters, got ${v.length}`, field, 'at most 128 characters');
  return v;
}

function securityField(o: Obj): ConfigurableSecurity | undefined {
  const v = o.security;
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !(CONFIGURABLE_SECURITY as readonly string[]).includes(v)) throw fail(`${ARG}security`, `one of ${CONFIGURABLE_SECURITY.join(', ')}`, v);
  return v as ConfigurableSecurity;
}

export function networkProcedures(deps: ProcedureDeps): ProcedureDef[] {
  const net = deps.network;
  return [
    {
      name: 'list_wifi_networks',
      privilege: 'READ',
      async handle() {
        const list = await answer(() => net.listWifi());
        return result(list.networks, { ipv4: list.ipv4, ipv6: list.ipv6 });
      },
    },
    {
      name: 'scan_wifi_networks',
      privilege: 'NETWORK',
      async handle() {
        await answer(() => net.scan());
        return result();
      },
    },
    {
      name: 'add_wifi_configuration',
      privilege: 'NETWORK',
      async handle({ args }) {
        const o = firstArgObject(args);
        const mac = macField(o, 'mac', true);
        // With a BSSID the access point names the network (as in the Reagent); the ssid is then only checked for shape.
        const ssid = mac !== '' && (o.ssid === undefined || o.ssid === null || o.ssid === '') ? '' : ssidField(o);
        const password = passwordField(o);
        const priority = requireUint(o, 'priority', ARG, MAX_PRIORITY);
        const security = securityField(o);
        if (mac === '') {
          const problem = passwordProblem(security ?? (password === '' ? 'none' : 'wpa-psk'), password);
          if (problem) throw invalidArgument(`field "${ARG}password": expected ${problem}`, `${ARG}password`, problem);
        }
        await answer(() => net.addWifi({ ssid, password, priority, ...(mac ? { mac } : {}), ...(security ? { security } : {}) }));
        return result();
      },
    },
    {
      name: 'remove_wifi_configuration',
      privilege: 'NETWORK',
      async handle({ args }) {
        const ssid = ssidField(firstArgObject(args));
        await answer(() => net.removeWifi(ssid));
        return result();
      },
    },
    {
      name: 'select_wifi_network',
      privilege: 'NETWORK',
      async handle({ args }) {
        const o = firstArgObject(args);
        const ssid = ssidField(o);
        const mac = macField(o, 'mac', true);
        await answer(() => net.selectWifi(ssid, mac));
        return result();
      },
    },
    {
      name: 'restart_wifi',
      privilege: 'NETWORK',
      async handle() {
        await answer(() => net.restartWifi());
        return result();
      },
    },
    {
      name: 'list_ethernet_devices',
      privilege: 'READ',
      async handle() {
        return result(await answer(() => net.listEthernet()));
      },
    },
    {
      name: 'update_ipv4_config',
      privilege: 'NETWORK',
      async handle({ args }) {
        const o = firstArgObject(args);
        const method = requireString(o, 'method', ARG, { max: 32 });
        const mac = macField(o, 'mac', false);
        // IFNAMSIZ is 16 with the terminating NUL.
        const interfaceName = requireString(o, 'interfaceName', ARG, { max: 15 });
        if (method === 'auto') {
          await answer(() => net.updateIpv4({ method: 'auto', mac, interfaceName }));
          return result();
        }
        // Anything but "auto" is a static address, as in the Reagent.
        const address = requireString(o, 'ipv4', ARG, { max: 15 });
        if (!isIpv4(address)) throw fail(`${ARG}ipv4`, 'a dotted-quad IPv4 address such as 192.168.1.20', address);
        const prefix = requireUint(o, 'prefix', ARG, 32);
        if (prefix < 1) throw fail(`${ARG}prefix`, 'a prefix length from 1 to 32', o.prefix);
        await answer(() => net.updateIpv4({ method: 'manual', mac, interfaceName, address, prefix }));
        return result();
      },
    },
    {
      // Every address of every interface, from the kernel as the Reagent's net.Interfaces(): NetworkManager is not asked, so it answers with -nmw=false too.
      name: 'get_network_metadata',
      privilege: 'READ',
      handle() {
        return result(networkMetadata());
      },
    },
  ];
}
