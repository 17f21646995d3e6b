/** BOLT 8 transport benchmarks: one 1 KiB message encrypted by one side and decrypted by the other. */
import { secp } from '../src/protocol/crypto/secp256k1.js';
import { initiatorAct2, initiatorStart, responderAct1, responderAct3 } from '../src/protocol/noise/index.js';
import type { BenchCase } from './harness.js';

const key = (b: number) => new Uint8Array(32).fill(b);
const { state, act1 } = initiatorStart(key(0x11), secp().publicKey(key(0x21)), key(0x12));
const r1 = responderAct1(key(0x21), key(0x22), act1);
const init = initiatorAct2(state, r1.act2);
const resp = responderAct3(r1.state, init.act3);
const msg = new Uint8Array(1024).fill(0x5a);

const cases: BenchCase[] = [
  {
    group: 'BOLT 8',
    name: 'BOLT 8 encrypt+decrypt of a 1 KiB message',
    fn: () => {
      const out = resp.transport.push(init.transport.encrypt(msg));
      if (out.length !== 1) throw new Error('bench: message lost');
    },
  },
  {
    group: 'BOLT 8',
    name: 'BOLT 8 full handshake (both sides, 3 acts)',
    fn: () => {
      const s = initiatorStart(key(0x11), secp().publicKey(key(0x21)), key(0x12));
      const r = responderAct1(key(0x21), key(0x22), s.act1);
      const i = initiatorAct2(s.state, r.act2);
      responderAct3(r.state, i.act3);
    },
    seconds: 1,
  },
];
export default cases;
