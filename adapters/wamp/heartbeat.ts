// `reswarm.devices.update_device_status`: the status reports of the on-connect
// sequence (CONFIGURING, CONNECTED) and the 30 s heartbeat, each with the
// host's storage and memory stats, as the Reagent sends them.
import { storageData } from './host-info.js';
import type { CallResult, WampSession } from './session.js';
import { BACKEND, type DeviceStatus } from './wire.js';

export interface DeviceIdentity {
  serial: string;
  device_key: number;
  /** Can change at run time: `read_device_metadata` reports a move to another project. */
  swarm_key: number;
}

export async function reportDeviceStatus(
  session: WampSession,
  identity: DeviceIdentity,
  status: DeviceStatus,
  wampSessionId: number,
  appsDir: string,
  timeoutMs: number,
): Promise<CallResult> {
  const stats = await storageData(appsDir);
  return session.call(
    BACKEND.updateDeviceStatus,
    [{ swarm_key: identity.swarm_key, device_key: identity.device_key, status, wamp_session_id: wampSessionId, stats, tunnel_capable: false }],
    {},
    timeoutMs,
  );
}
