// The network link: NetworkManager on the system D-Bus (`-nmw`, Linux).
// At boot it sets infinite autoconnect retries on the device's connections,
// as the Reagent does, -offline included (it keeps the device reachable and
// needs no cloud). It never holds up the daemon: the boot work runs in the
// background, bounded, and a missing bus or NetworkManager is a warning, after
// which every network procedure answers "unavailable" until NetworkManager is
// there (each request tries the bus again).
import type { Logger } from 'pino';
import type { Link, LinkContext } from '../../actors/link.js';
import type { Redactor } from '../log/redactor.js';
import { NmClient } from './nm-client.js';
import { NmNetwork } from './nm-network.js';
import { NetworkUnavailable, type EthernetDevice, type Ipv4Change, type NetworkService, type WifiCredentials, type WifiList } from './service.js';

export interface NetworkLinkOptions {
  /** The system bus address (DBUS_SYSTEM_BUS_ADDRESS or the well-known socket). */
  address: string;
  redactor: Redactor;
  connectTimeoutMs?: number;
  callTimeoutMs?: number;
  scanTimeoutMs?: number;
  activationDelayMs?: number;
}

export const NETWORK_DEFAULTS = { connectTimeoutMs: 2000, callTimeoutMs: 5000 } as const;

export class NetworkLink implements Link {
  readonly name = 'network';
  private client: NmClient | null = null;
  private network: NmNetwork | null = null;
  private boot: Promise<void> | null = null;
  /** What the studio link's procedures call; usable before start (it answers "unavailable" until then). */
  readonly service: NetworkService;

  constructor(private readonly opts: NetworkLinkOptions) {
    this.service = new LinkService(() => this.network);
  }

  async prepare(ctx: LinkContext): Promise<void> {
    this.setup(ctx.logger);
  }

  async start(ctx: LinkContext): Promise<void> {
    const network = this.setup(ctx.logger);
    const client = this.client!;
    const logger = ctx.logger;
    this.boot = (async () => {
      try {
        if (!(await client.nmPresent())) {
          logger.warn({ address: client.address }, 'network management unavailable: NetworkManager is not running on the system D-Bus; network procedures answer "unavailable" until it is');
          return;
        }
        const r = await network.setInfiniteAutoconnectRetries();
        logger.info({ address: client.address, ...r }, 'NetworkManager: autoconnect-retries is 0 (retry for ever) on every Wi-Fi and Ethernet connection');
      } catch (err) {
        const message = (err as Error).message;
        if (err instanceof NetworkUnavailable) logger.warn({ address: client.address }, `${message}; network procedures answer "unavailable" until it is reachable`);
        else logger.error({ address: client.address }, `setting infinite autoconnect-retries failed: ${message}`);
      }
    })();
  }

  /** Resolves when the boot work is done (tests wait on it). */
  get booted(): Promise<void> {
    return this.boot ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    // Closing the bus rejects whatever is in flight, so the boot work ends at once.
    this.client?.close();
    this.network?.stop();
    await this.boot;
    this.client = null;
    this.network = null;
  }

  private setup(logger: Logger): NmNetwork {
    if (this.network) return this.network;
    this.client = new NmClient({
      address: this.opts.address,
      connectTimeoutMs: this.opts.connectTimeoutMs ?? NETWORK_DEFAULTS.connectTimeoutMs,
      callTimeoutMs: this.opts.callTimeoutMs ?? NETWORK_DEFAULTS.callTimeoutMs,
      logger,
    });
    this.network = new NmNetwork({
      client: this.client,
      logger,
      addSecret: (v) => this.opts.redactor.addSecret(v),
      ...(this.opts.scanTimeoutMs !== undefined ? { scanTimeoutMs: this.opts.scanTimeoutMs } : {}),
      ...(this.opts.activationDelayMs !== undefined ? { activationDelayMs: this.opts.activationDelayMs } : {}),
    });
    return this.network;
  }
}

/** Forwards to the running link's network; "unavailable" while there is none. */
class LinkService implements NetworkService {
  constructor(private readonly current: () => NmNetwork | null) {}
  private get n(): NetworkService {
    const n = this.current();
    if (!n) throw new NetworkUnavailable('the network link is not running');
    return n;
  }
  private async via<T>(fn: (n: NetworkService) => Promise<T>): Promise<T> {
    return fn(this.n);
  }
  listWifi(): Promise<WifiList> {
    return this.via((n) => n.listWifi());
  }
  scan(): Promise<void> {
    return this.via((n) => n.scan());
  }
  addWifi(c: WifiCredentials): Promise<void> {
    return this.via((n) => n.addWifi(c));
  }
  removeWifi(ssid: string): Promise<void> {
    return this.via((n) => n.removeWifi(ssid));
  }
  selectWifi(ssid: string, mac: string): Promise<void> {
    return this.via((n) => n.selectWifi(ssid, mac));
  }
  restartWifi(): Promise<void> {
    return this.via((n) => n.restartWifi());
  }
  listEthernet(): Promise<EthernetDevice[]> {
    return this.via((n) => n.listEthernet());
  }
  updateIpv4(change: Ipv4Change): Promise<void> {
    return this.via((n) => n.updateIpv4(change));
  }
}
