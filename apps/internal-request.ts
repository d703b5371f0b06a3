// A request the agent makes of itself (a failed upload reset, an app the
// studio no longer lists), for an app with no stored request to build on.
import type { AppState } from '../machines/app-states.js';
import { validateAppName, type AppIdentity } from '../adapters/docker/naming.js';
import type { AppStateRequest } from './service.js';

/** Throws a NamingError for a name that is no app name: this is where the agent's own requests enter. */
export function minimalRequest(app: AppIdentity, target: AppState): AppStateRequest {
  return {
    appKey: Number(app.appKey),
    appName: validateAppName(app.appName),
    stage: app.stage,
    targetState: target,
    currentState: null,
    releaseKey: null,
    newReleaseKey: null,
    requestorAccountKey: null,
    deviceOwnerAccountKey: null,
    deviceToAppKey: null,
    version: null,
    presentVersion: null,
    newestVersion: null,
    requestUpdate: false,
    cancelTransition: false,
    environment: null,
    environmentTemplate: null,
    ports: null,
    dockerCompose: null,
    newDockerCompose: null,
    dockerCredentials: null,
    instanceKey: null,
    appCredEpoch: null,
  };
}
