// Plaintext channel credentials that look at every TCP connection grpc-js
// makes before the first byte goes out on it: the kernel must say the other
// end belongs to root or to this process's user (socket-owner.ts). The check
// before each attempt (gateway-link.ts) gives the one-line refusal; this one
// closes the window between that check and grpc-js' own (re)connects, when a
// restarted gateway's port is briefly free for anyone to take.
import type { Socket } from 'node:net';
import { ChannelCredentials, credentials, type CallCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { checkConnection, ownUid, readSocketTable, type OwnerVerdict, type SocketTable } from './socket-owner.js';

type SecureConnector = ReturnType<ChannelCredentials['_createSecureConnector']>;
type ChannelTarget = Parameters<ChannelCredentials['_createSecureConnector']>[0];

export interface OwnerCheckOptions {
  uid?: number;
  table?: () => SocketTable;
  /** Told about every refused connection (the link logs it once). */
  refused?: (verdict: Exclude<OwnerVerdict, { kind: 'trusted' }>) => void;
}

export class OwnerCheckedCredentials extends ChannelCredentials {
  private readonly inner = credentials.createInsecure();

  constructor(private readonly opts: OwnerCheckOptions = {}) {
    super();
  }

  override compose(_callCredentials: CallCredentials): ChannelCredentials {
    throw new Error('plaintext credentials cannot carry call credentials');
  }

  _isSecure(): boolean {
    return false;
  }

  _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(target: ChannelTarget, options: ChannelOptions, callCredentials?: CallCredentials): SecureConnector {
    const inner = this.inner._createSecureConnector(target, options, callCredentials);
    return {
      connect: async (socket: Socket) => {
        const verdict = checkConnection(socket, this.opts.uid ?? ownUid(), (this.opts.table ?? readSocketTable)());
        if (verdict.kind !== 'trusted') {
          this.opts.refused?.(verdict);
          throw new Error(verdict.line);
        }
        return inner.connect(socket);
      },
      waitForReady: () => inner.waitForReady(),
      getCallCredentials: () => inner.getCallCredentials(),
      destroy: () => inner.destroy(),
    };
  }
}
