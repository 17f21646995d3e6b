/**
 * BOLT #8 (08-transport.md) § "Lightning Message Specification" and § "Lightning Message Key
 * Rotation": the post-handshake encrypted transport, sans-IO.
 *
 * {@link NoiseTransport.encrypt} turns one Lightning message into wire bytes
 * (`lc || c`: an 18-byte encrypted length prefix then the encrypted body); {@link NoiseTransport.push}
 * is a streaming decryptor that accepts the byte stream in arbitrary chunks and returns every
 * complete message. Each direction rotates its key after 1000 uses, with its own chaining key.
 */
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { decryptWithAD, encryptWithAD, hkdf2 } from './cipher.js';

const EMPTY = new Uint8Array(0);
const MAC_LEN = 16;

/** Size of the encrypted length prefix `lc`: 2-byte length + 16-byte MAC. */
export const NOISE_HEADER_LEN = 2 + MAC_LEN;

/** BOLT #8: "The *maximum* size of _any_ Lightning message MUST NOT exceed `65535` bytes." */
export const NOISE_MAX_MESSAGE_LEN = 65535;

/** BOLT #8: a key is rotated "once the nonce dedicated to it reaches 1000". */
export const NOISE_ROTATION_INTERVAL = 1000;

/** The keys a transport starts from: the handshake's final chaining key and the two directional keys. */
export interface NoiseTransportKeys {
  /** Final chaining key `ck` of the handshake; initial value of both `sck` and `rck`. */
  ck: Uint8Array;
  /** Sending key `sk`. */
  sk: Uint8Array;
  /** Receiving key `rk`. */
  rk: Uint8Array;
}

/** One direction's cipher state: key, nonce and the chaining key used for rotation. */
class CipherState {
  private ck: Uint8Array;
  private k: Uint8Array;
  private n = 0;

  constructor(ck: Uint8Array, k: Uint8Array) {
    if (ck.length !== 32 || k.length !== 32) throw new InvalidArgumentError('noise keys must be 32 bytes');
    this.ck = ck.slice();
    this.k = k.slice();
  }

  get key(): Uint8Array {
    return this.k.slice();
  }

  get nonce(): number {
    return this.n;
  }

  get chainingKey(): Uint8Array {
    return this.ck.slice();
  }

  encrypt(plaintext: Uint8Array): Uint8Array {
    const out = encryptWithAD(this.k, this.n, EMPTY, plaintext);
    this.advance();
    return out;
  }

  decrypt(ciphertext: Uint8Array, code: string, message: string): Uint8Array {
    const out = decryptWithAD(this.k, this.n, EMPTY, ciphertext, code, message);
    this.advance();
    return out;
  }

  private advance(): void {
    this.n++;
    if (this.n === NOISE_ROTATION_INTERVAL) {
      // BOLT #8: "ck', k' = HKDF(ck, k)", then reset the nonce to 0.
      const [ck, k] = hkdf2(this.ck, this.k);
      this.ck = ck;
      this.k = k;
      this.n = 0;
    }
  }
}

/**
 * An established BOLT 8 session. Pure and synchronous: the caller moves bytes between this
 * object and the socket. Not safe to share between two connections.
 *
 * Obligations: after {@link push} throws, the connection MUST be closed (BOLT 8: on a MAC failure
 * the node "MUST terminate the connection"); every later `push` rethrows the same error.
 */
export class NoiseTransport {
  private readonly send: CipherState;
  private readonly recv: CipherState;
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Body length (without MAC) of the message whose header was already decrypted, or -1. */
  private pendingLen = -1;
  private failure: DecodeError | undefined;

  /** Builds a transport from the handshake output (see `initiatorAct2` / `responderAct3`). */
  constructor(keys: NoiseTransportKeys) {
    this.send = new CipherState(keys.ck, keys.sk);
    this.recv = new CipherState(keys.ck, keys.rk);
  }

  /** Current sending key (a copy; changes on rotation). */
  get sendingKey(): Uint8Array {
    return this.send.key;
  }

  /** Current receiving key (a copy; changes on rotation). */
  get receivingKey(): Uint8Array {
    return this.recv.key;
  }

  /** Current sending nonce `sn` (0..999). */
  get sendingNonce(): number {
    return this.send.nonce;
  }

  /** Current receiving nonce `rn` (0..999). */
  get receivingNonce(): number {
    return this.recv.nonce;
  }

  /** Bytes pushed but not yet consumed by a complete message. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Encrypts one Lightning message (BOLT 8 § Encrypting and Sending Messages) and returns
   * `lc || c`. Throws InvalidArgumentError if the message exceeds 65535 bytes.
   */
  encrypt(message: Uint8Array): Uint8Array {
    if (message.length > NOISE_MAX_MESSAGE_LEN)
      throw new InvalidArgumentError(`lightning message exceeds ${NOISE_MAX_MESSAGE_LEN} bytes`);
    const l = new Uint8Array(2);
    l[0] = message.length >> 8;
    l[1] = message.length & 0xff;
    const lc = this.send.encrypt(l);
    const c = this.send.encrypt(message);
    const out = new Uint8Array(lc.length + c.length);
    out.set(lc, 0);
    out.set(c, lc.length);
    return out;
  }

  /**
   * Feeds received bytes (any chunking) and returns the messages completed by them, in order.
   * Throws {@link DecodeError} `NOISE_BAD_LENGTH_TAG` / `NOISE_BAD_MESSAGE_TAG` on a MAC failure;
   * the transport is then unusable.
   */
  push(bytes: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    if (bytes.length > 0) {
      this.chunks.push(bytes.slice());
      this.buffered += bytes.length;
    }
    const out: Uint8Array[] = [];
    try {
      for (;;) {
        if (this.pendingLen < 0) {
          if (this.buffered < NOISE_HEADER_LEN) break;
          const l = this.recv.decrypt(
            this.take(NOISE_HEADER_LEN),
            'NOISE_BAD_LENGTH_TAG',
            'noise: bad MAC on message length',
          );
          this.pendingLen = (l[0]! << 8) | l[1]!;
        }
        const need = this.pendingLen + MAC_LEN;
        if (this.buffered < need) break;
        out.push(
          this.recv.decrypt(this.take(need), 'NOISE_BAD_MESSAGE_TAG', 'noise: bad MAC on message body'),
        );
        this.pendingLen = -1;
      }
    } catch (e) {
      this.failure =
        e instanceof DecodeError
          ? e
          : new DecodeError('NOISE_DECRYPT_FAILED', 'noise: decryption failed', { cause: e });
      this.chunks.length = 0;
      this.buffered = 0;
      throw this.failure;
    }
    return out;
  }

  /** Removes and returns exactly `n` buffered bytes (caller checked `buffered >= n`). */
  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - o);
      out.set(c.subarray(0, k), o);
      o += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
