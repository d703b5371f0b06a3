// Dialling a session's target.
import { connect as netConnect, type Socket } from 'node:net';
import type { Dialer } from './types.js';

/** Dials a target with a bound, as hoop's agent does (net.DialTimeout). */
export const dialTcp: Dialer = (host, port, timeoutMs) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
