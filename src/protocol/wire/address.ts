/**
 * BOLT 7 `node_announcement` address descriptors (07-routing-gossip.md, "The
 * `node_announcement` Message"), also used by the BOLT 1 `init` `remote_addr` TLV.
 *
 * Types: 1 IPv4 (4+2), 2 IPv6 (16+2), 3 deprecated Tor v2 (10+2), 4 Tor v3 (35+2),
 * 5 DNS hostname ([u8:len][len:hostname][2:port]). BOLT #7: the reader "SHOULD ignore the first
 * `address descriptor` that does NOT match the types defined above" — since descriptors are in
 * ascending order we stop there and keep the remaining bytes raw as an `unknown` entry, so a
 * re-encoded announcement is byte-identical (its signature covers these bytes).
 */
import { base32 } from '@scure/base';
import type { Reader } from '../encoding/reader.js';
import type { Writer } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { type Codec, sized16, until } from './codec.js';

/** One address descriptor. `addr` is raw network-order bytes; ports are u16. */
export type NodeAddress =
  | { type: 'ipv4'; addr: Uint8Array; port: number }
  | { type: 'ipv6'; addr: Uint8Array; port: number }
  | { type: 'torv2'; addr: Uint8Array; port: number }
  | { type: 'torv3'; addr: Uint8Array; port: number }
  | { type: 'dns'; hostname: string; port: number }
  /** An unknown descriptor type and every byte after it (always the last entry). */
  | { type: 'unknown'; addrType: number; data: Uint8Array };

const FIXED: Record<number, ['ipv4' | 'ipv6' | 'torv2' | 'torv3', number]> = {
  1: ['ipv4', 4],
  2: ['ipv6', 16],
  3: ['torv2', 10],
  4: ['torv3', 35],
};
const TYPE_NUM = { ipv4: 1, ipv6: 2, torv2: 3, torv3: 4 } as const;

function readAddress(r: Reader): NodeAddress {
  const t = r.u8();
  const fixed = FIXED[t];
  if (fixed) {
    const addr = r.bytes(fixed[1]).slice();
    return { type: fixed[0], addr, port: r.u16() };
  }
  if (t === 5) {
    const raw = r.bytes(r.u8());
    let hostname = '';
    for (const c of raw) {
      // BOLT #7: "`hostname` bytes MUST be ASCII characters."
      if (c > 0x7f) throw new DecodeError('WIRE_BAD_HOSTNAME', 'DNS hostname is not ASCII');
      hostname += String.fromCharCode(c);
    }
    return { type: 'dns', hostname, port: r.u16() };
  }
  return { type: 'unknown', addrType: t, data: r.rest().slice() };
}

function writeAddress(w: Writer, a: NodeAddress): void {
  switch (a.type) {
    case 'dns': {
      if (a.hostname.length > 255 || !/^[\x00-\x7f]*$/.test(a.hostname)) {
        throw new InvalidArgumentError('DNS hostname must be ASCII, at most 255 characters');
      }
      w.u8(5).u8(a.hostname.length);
      for (let i = 0; i < a.hostname.length; i++) w.u8(a.hostname.charCodeAt(i));
      w.u16(a.port);
      return;
    }
    case 'unknown':
      if (FIXED[a.addrType] || a.addrType === 5)
        throw new InvalidArgumentError('unknown address uses a known type');
      w.u8(a.addrType).bytes(a.data);
      return;
    default: {
      const n = TYPE_NUM[a.type];
      if (a.addr.length !== FIXED[n]![1])
        throw new InvalidArgumentError(`${a.type} address has wrong length`);
      w.u8(n).bytes(a.addr).u16(a.port);
    }
  }
}

/** One address descriptor (an `unknown` type swallows the remaining bytes). */
export const address: Codec<NodeAddress> = {
  shape: { kind: 'address' },
  read: readAddress,
  write: writeAddress,
};

const list = until(address);
/** `[u16:addrlen][addrlen*byte:addresses]` as a list; an `unknown` entry must be last. */
export const addressList: Codec<NodeAddress[]> = sized16({
  shape: list.shape,
  read: list.read,
  write(w, v) {
    v.forEach((a, i) => {
      if (a.type === 'unknown' && i !== v.length - 1) {
        throw new InvalidArgumentError('an unknown address descriptor must be the last one');
      }
    });
    list.write(w, v);
  },
});

/** Formats a descriptor as `host:port` (IPv6 in brackets, Tor as `<base32>.onion`); undefined for unknown. */
export function formatAddress(a: NodeAddress): string | undefined {
  switch (a.type) {
    case 'ipv4':
      return `${[...a.addr].join('.')}:${a.port}`;
    case 'ipv6': {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(((a.addr[i]! << 8) | a.addr[i + 1]!).toString(16));
      return `[${groups.join(':')}]:${a.port}`;
    }
    case 'dns':
      return `${a.hostname}:${a.port}`;
    case 'torv2':
    case 'torv3':
      return `${base32.encode(a.addr).toLowerCase()}.onion:${a.port}`;
    default:
      return undefined;
  }
}
