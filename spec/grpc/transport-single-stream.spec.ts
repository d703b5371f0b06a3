// The gateway transport keeps at most one Connect stream at the gateway,
// however many dials pile up. grpc-js 1.14 puts a stream on the wire even
// when it is cancelled in the tick it was created and never resets it; the
// gateway then holds that stream as the agent's, and every later attempt gets
// "agent already connected". Counted on the gateway side.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GatewayTransport, type GatewayCall } from '../../adapters/grpc/transport.js';
import { connectMetadata } from '../../adapters/grpc/metadata.js';
import { channelSecurity } from '../../adapters/grpc/tls.js';
import { AgentPacket } from '../../adapters/grpc/wire-names.js';
import type { Packet } from '../../adapters/grpc/packet-codec.js';
import { createDsnAgent, startDevGateway, waitUntil } from '../helpers/gateway-peer.js';

const facts = { version: 'test', platform: 'linux/amd64', hostname: 'box', machineId: 'm', kernelVersion: 'k' };

describe('the gateway transport', () => {
  let gw: Awaited<ReturnType<typeof startDevGateway>>;
  let token: string;
  before(async () => {
    gw = await startDevGateway();
    token = await createDsnAgent(gw, 'single');
  });
  after(() => gw.stop());

  function transport(): GatewayTransport {
    return new GatewayTransport({
      address: gw.grpc,
      security: channelSecurity(false, { serverName: null, ca: null, skipVerify: false }),
      keepalive: { timeMs: 0, timeoutMs: 0 },
      userAgent: 'reagent-test',
    });
  }

  /** Opens a call; `connected` resolves on AgentGatewayConnectOK, `ended` with its end. */
  function dial(t: GatewayTransport) {
    let connected = false;
    let ended: string | null = null;
    const call: GatewayCall = t.open(connectMetadata({ token, facts }), {
      packet: (p: Packet) => {
        if (p.type === AgentPacket.GatewayConnectOK) connected = true;
      },
      end: (e) => (ended = e.code),
    });
    return { call, connected: () => connected, ended: () => ended };
  }

  it('starts only the last of many dials made in one turn, and the gateway never holds two streams', async () => {
    const t = transport();
    try {
      // A connected channel first: the case where grpc-js leaked cancelled streams.
      const first = dial(t);
      await waitUntil(first.connected, 5000, 'the first stream');
      const piled = Array.from({ length: 6 }, () => dial(t));
      const last = piled.at(-1)!;
      await waitUntil(last.connected, 5000, 'the last dial to connect');
      await new Promise((r) => setTimeout(r, 300));
      const status = gw.gateway.router.status('single');
      assert.equal(status.connected, true);
      assert.equal(status.streams, 1, 'one stream open at the gateway');
      assert.equal(status.peakStreams, 1, 'never two at once');
      assert.ok(piled.slice(0, -1).every((d) => !d.connected() && d.ended() === null), 'replaced dials are silent: no packets, no end');
      assert.equal(last.ended(), null);

      // Dial and cancel at once, many times: nothing stays behind at the gateway.
      for (let i = 0; i < 5; i++) dial(t).call.cancel();
      const again = dial(t);
      await waitUntil(again.connected, 5000, 'a dial after the cancelled ones');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(gw.gateway.router.status('single').streams, 1);
      assert.equal(gw.gateway.router.status('single').peakStreams, 1);
    } finally {
      t.close();
    }
    await waitUntil(() => !gw.gateway.router.status('single').connected, 5000, 'the gateway to see the agent go after close()');
  });
});
