// Wire names of the studio link, exactly as the IronFlock platform spells them
// (research: ironflock-reagent.md §2).

/** Procedures of the backend (and the router's meta API) the agent calls. */
export const BACKEND = {
  addTestament: 'wamp.session.add_testament',
  updateDeviceStatus: 'reswarm.devices.update_device_status',
  readDeviceMetadata: 'reswarm.devices.read_device_metadata',
  updateDeviceArchitecture: 'reswarm.devices.update_device_architecture',
  checkPrivilege: 'reswarm.devices.check_privilege',
  getAppCredKey: 'reswarm.devices.get_app_cred_key',
  getRequestedAppStates: 'reswarm.containers.get_requested_app_states',
  updateAppOnDevice: 'reswarm.containers.update_app_on_device',
  getRegistryToken: 'reswarm.containers.get_registry_token',
  subscriptionMatch: 'wamp.subscription.match',
} as const;

/** Router meta events the log publisher listens to. */
export const META_TOPICS = {
  subscriptionCreated: 'wamp.subscription.on_create',
  subscriptionDeleted: 'wamp.subscription.on_delete',
} as const;

/** The topic the router publishes the testament to when the device's session drops. */
export const TESTAMENT_TOPIC = 'reswarm.api.testament_device';

/** Registered without force_reregister: a second agent with the same serial cannot take over. */
export const GUARD_PROCEDURE = 'wamp_connection_established';
export const GUARD_REPLY = 'Hello :-)';

export function deviceProcedure(serial: string, name: string): string {
  return `re.mgmt.${serial}.${name}`;
}

export function logTopicPrefix(serial: string): string {
  return `reswarm.logs.${serial}.`;
}

export function logTopic(serial: string, containerName: string): string {
  return `${logTopicPrefix(serial)}${containerName}`;
}

export function commandOutputTopic(serial: string, pid: number): string {
  return `re.mgmt.${serial}.cmd_output_${pid}`;
}

export type DeviceStatus = 'CONNECTED' | 'DISCONNECTED' | 'CONFIGURING' | 'EMERGENCY';

/** Download progress of an agent update: `{increment, currentBytes, fileSize}`. */
export function agentUpdateProgressTopic(serial: string): string {
  return `re.mgmt.${serial}.agent_update_progress`;
}
