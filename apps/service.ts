// What the app domain offers the studio link: the service it calls and the
// typed values it passes. The studio link (adapters/wamp/) translates WAMP
// payloads to and from these and checks their wire shape; the app domain owns
// everything Docker. It is declared here, by the domain, so the domain depends
// on no link and a second caller (a CLI, a test) speaks the same types.
import type { AppState, Stage } from '../machines/app-states.js';
import type { Json } from '../actors/types.js';
import type { ContainerTerminal } from '../adapters/docker/terminal-exec.js';
import type { AppName } from '../adapters/docker/naming.js';

/** A registry login from `docker_credentials`. Secret: never journal or log it. */
export interface DockerCredential {
  username: string;
  password: string;
}

/**
 * A validated `request_app_state` payload (or one entry of
 * `get_requested_app_states`), keys renamed to camelCase, numbers coerced, the
 * target normalised with TransientToActualState.
 */
export interface AppStateRequest {
  appKey: number;
  /** Checked where the request enters (the wire parser, or validateAppName for the agent's own requests). */
  appName: AppName;
  stage: Stage;
  targetState: AppState;
  currentState: AppState | null;
  /** A number, or a string from the backend's legacy bug. */
  releaseKey: number | string | null;
  newReleaseKey: number | null;
  requestorAccountKey: number | string | null;
  deviceOwnerAccountKey: number | null;
  deviceToAppKey: number | null;
  version: string | null;
  presentVersion: string | null;
  newestVersion: string | null;
  requestUpdate: boolean;
  cancelTransition: boolean;
  environment: { [key: string]: Json } | null;
  environmentTemplate: { [key: string]: Json } | null;
  ports: Json[] | null;
  dockerCompose: { [key: string]: Json } | null;
  newDockerCompose: { [key: string]: Json } | null;
  /** Keyed by registry host. Keep in memory only: these are passwords. */
  dockerCredentials: Record<string, DockerCredential> | null;
  instanceKey: number | string | null;
  appCredEpoch: number | null;
}

/** Why a request reaches the apps link: a studio call, or the on-connect reconciliation (a resync). */
export type RequestOrigin = 'studio' | 'reconcile';

/** The per-app fields of `update_app_on_device` that come from the app's stored request. */
export interface ReportFields {
  device_to_app_key: number | null;
  requestor_account_key: number | string | null;
  release_key: number | string | null;
  request_update: boolean;
  release_build: boolean;
  updateStatus: string;
}

/**
 * The port report of `update_app_on_device` (§2.4), as the apps link makes it:
 * the studio link adds device_key and swarm_key and delivers it through its outbox.
 */
export interface PortReport {
  [key: string]: Json;
  app_key: number | string;
  stage: Stage;
  /** The studio's `ports[]` rules, each active one with its `host_port`. */
  ports: Json[];
}

/** Docker's image summary, in the keys `get_images` answers with. */
export interface ImageSummary {
  created: number;
  containers: number;
  sharedSize: number;
  virtualSize: number;
  id: string;
  labels: Record<string, string>;
  size: number;
  repoTags: string[];
}

/** A validated `query_app_logs` payload; times are Unix seconds. */
export interface AppLogQuery {
  containerName: string;
  tail: number;
  /** Skips the newest `offset` lines (paging backwards). */
  offset: number;
  since?: number;
  until?: number;
  timestamps: boolean;
}

/** The `query_app_logs` answer, in its wire keys. */
export interface AppLogQueryResult {
  lines: string[];
  /** "history": the window could not be applied (the stored history answered). */
  source: 'docker' | 'compose' | 'history';
  returned: number;
  truncated: boolean;
  /** The device clock when answering, RFC3339. */
  device_time: string;
  oldest_available?: string;
}

/**
 * Live output of one app for `reswarm.logs.<serial>.<containerName>`: at most
 * one batch per 200 ms and 256 KiB of lines; when lines had to go, the last
 * line is the counted marker `… N log line(s) dropped (rate limit)`.
 * `messages` are agent messages ("Starting image build…"), published as
 * `{type: "build", chunk}` the way the Reagent does.
 */
export interface LogBatch {
  containerName: string;
  lines: string[];
  messages: string[];
  dropped: number;
}

/** Thrown by `requestAppState` when the apps link rejects a field; the message names it. */
export class InvalidAppRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAppRequest';
  }
}

export interface AppsService {
  /**
   * Journals a REQUEST to the app actor `app:<STAGE>:<appKey>`, spawning it when
   * new, and keeps the payload's rich parts (environment, compose, ports,
   * credentials) where the Docker handlers find them. Origin `reconcile` is a
   * resync. Returns when the request is journaled; the transition runs on.
   * A field the app domain rejects (an environment name, a port) is an
   * InvalidAppRequest whose message names it.
   */
  requestAppState(request: AppStateRequest, origin: RequestOrigin): Promise<void>;
  /** For `update_app_on_device`; undefined for an app the apps link does not know. */
  reportFields(stage: Stage, appKey: string): ReportFields | undefined;
  /** `list_containers`: Docker's container list (all containers), as Docker returns it. */
  listContainers(): Promise<Json[]>;
  getImages(): Promise<ImageSummary[]>;
  /**
   * `prune_images`: `all` is `docker system prune -af --volumes`; otherwise
   * dangling images only. The value is the answer's `args[0]`: for `all` the
   * Reagent answers `[output]`, i.e. the prune output as one string.
   */
  pruneImages(opts: { all: boolean }): Promise<Json>;
  /** `get_app_log_history`: the last lines of a container, oldest first. */
  appLogHistory(containerName: string): Promise<string[]>;
  queryAppLogs(query: AppLogQuery): Promise<AppLogQueryResult>;
  /** Containers whose logs could be asked for (checked against subscriptions at session start). */
  logSources(): Promise<string[]>;
  /** Starts following a container's output; the function stops it. Called only while someone listens. */
  subscribeLogBatches(containerName: string, onBatch: (batch: LogBatch) => void): () => void;
  /**
   * `request_terminal_session`: a shell in an app's container, created (not
   * started) as a docker exec with a TTY. The name must be an app's container.
   */
  openTerminal(containerName: string): Promise<ContainerTerminal>;
  /**
   * The per-session app credential key (`get_app_cred_key`), in memory only;
   * null when it could not be fetched. Apps started while it is known get
   * `APP_AUTH_ID`/`APP_AUTH_SECRET` (ironflock-reagent.md §1.3). Secret.
   */
  setAppCredentialKey(key: string | null): void;
  /** Where port reports go (the studio link's outbox); the function unplugs it. */
  usePortReports(sink: (report: PortReport) => void): () => void;
  /** A DEV upload failed midway; the Reagent resets the app to REMOVED. */
  transferFailed(containerName: string, reason: string): void;
  /**
   * Plugs in the registry login of the Reagent (`get_registry_token`), used
   * for a pull or push whose request carried no `docker_credentials` for the
   * image's registry. Returns how to unplug it.
   */
  useRegistryAuth(source: RegistryAuthSource): () => void;
  /** The disk guard's emergency (§7.5): the device reports EMERGENCY in place of CONNECTED. */
  diskEmergency(): boolean;
  /**
   * The on-connect removal (§3 OnConnect step 1): every app the apps link
   * keeps that `listed` (a successful `get_requested_app_states`) does not
   * name is removed from Docker and from the stored requests, its /data kept.
   * Resolves with the apps it asked to remove.
   */
  removeUnlisted(listed: ReadonlyArray<{ appKey: number; stage: Stage }>): Promise<Array<{ appKey: number; stage: Stage; appName: string }>>;
}

/** What a registry login is asked for: the image's registry and the app (with its caller account, §2). */
export interface RegistryAuthRequest {
  registryHost: string;
  stage: Stage;
  appKey: string;
  appName: string;
  /** `get_registry_token`'s callerID: PROD apps use `device_owner_account_key` when present, else the requestor's. */
  callerId: number | string | null;
}

/** A registry login; the password is a secret (never journal or log it). */
export interface RegistryLogin {
  username: string;
  password: string;
  serveraddress: string;
}

/**
 * Resolves with a login for the registry, undefined when this source has none
 * for it (another registry), or rejects with a reason naming the registry
 * (the studio link is offline, the backend refused).
 */
export type RegistryAuthSource = (request: RegistryAuthRequest) => Promise<RegistryLogin | undefined>;
