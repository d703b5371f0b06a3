// Which gateway addresses are this machine. The TLS rule sends plaintext
// only to these, and only after checking who owns the listening socket;
// everything else needs TLS. Pure: names are judged by their spelling, never
// resolved (`localhost` is loopback by definition, RFC 6761; any other name
// could resolve anywhere).
import { isIPv4, isIPv6 } from 'node:net';

/** 127.0.0.0/8, ::1 (any spelling), ::ffff:127.x.y.z and `localhost` (with or without the final dot). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (!isIPv6(h)) return false;
  const words = ipv6Words(h);
  if (!words) return false;
  const zeroPrefix = words.slice(0, 5).every((w) => w === 0);
  if (zeroPrefix && words[5] === 0 && words[6] === 0 && words[7] === 1) return true;
  // IPv4-mapped: ::ffff:127.0.0.1 is 127.0.0.1.
  return zeroPrefix && words[5] === 0xffff && words[6]! >> 8 === 127;
}

/** The eight 16-bit words of an IPv6 address (dotted IPv4 tails included); null if malformed. */
export function ipv6Words(text: string): number[] | null {
  let h = text.toLowerCase();
  const zone = h.indexOf('%');
  if (zone >= 0) h = h.slice(0, zone);
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (tail) {
    if (!isIPv4(tail[1]!)) return null;
    const [a, b, c, d] = tail[1]!.split('.').map(Number) as [number, number, number, number];
    h = `${h.slice(0, -tail[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = h.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((w) => (/^[0-9a-f]{1,4}$/.test(w) ? parseInt(w, 16) : NaN)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if ([...head, ...rest].some(Number.isNaN)) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - rest.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...rest];
}
