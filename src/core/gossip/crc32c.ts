/**
 * CRC32C (Castagnoli, RFC 3720 Appendix B.4), used by BOLT #7 `reply_channel_range`
 * `checksums_tlv`: "the CRC32C checksum ... of this `channel_update` without its `signature`
 * and `timestamp` fields".
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32C of the concatenation of `parts` (reflected, init and final xor 0xFFFFFFFF). */
export function crc32c(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const b of parts) for (let i = 0; i < b.length; i++) c = TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
