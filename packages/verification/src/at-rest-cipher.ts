// Encryption at rest for what the runtime must keep readable to itself but no one else: LangGraph
// checkpoints hold the real arguments and tool results a held run resumes with, so they cannot be
// redacted. AES-256-GCM (node:crypto) under a key in the data directory (`keys/at-rest.key`, like
// the seal and redaction keys); each value is bound by the GCM tag to where it is stored (its
// context, e.g. table and primary key), so a ciphertext moved to another row fails to open.
// Equality lookups over protected values use a keyed hash (HMAC-SHA256) instead of the value.
import { createCipheriv, createDecipheriv, createHash, createHmac, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';
import { ErrorCode, SystemError, UserError } from '@aifactory/core';
import { loadOrCreateKeyFile } from './key-file.ts';

/** Encrypts and opens values stored at rest, bound to their storage context. */
export interface AtRestCipher {
  /** Short id of the key (sha256 prefix of the derived key), to say which key a store needs. */
  readonly keyId: string;
  /** Encrypts plaintext for the given context (e.g. `checkpoint_blobs|thread|ns|channel|version`). */
  seal(plaintext: Uint8Array, context: string): Uint8Array;
  /** Opens what seal wrote for the same context; throws SystemError when the key, context or bytes differ. */
  open(sealed: Uint8Array, context: string): Uint8Array;
  /** A keyed hash of text (hex), for equality lookups that must not reveal the value. */
  digest(text: string): string;
}

// Format v1: magic 'afe1' | 12-byte IV | ciphertext | 16-byte GCM tag.
const magic = Buffer.from('afe1', 'latin1');
const ivLength = 12;
const tagLength = 16;

/** Whether bytes carry the at-rest format's header (they may still fail to open). */
export function isSealedAtRest(bytes: Uint8Array): boolean {
  return bytes.length >= magic.length + ivLength + tagLength && Buffer.from(bytes.buffer, bytes.byteOffset, magic.length).equals(magic);
}

/** A cipher over a master key of at least 16 bytes; encryption and hashing keys are derived apart (HKDF-SHA256). */
export function createAtRestCipher(masterKey: Buffer): AtRestCipher {
  if (!Buffer.isBuffer(masterKey) || masterKey.length < 16) {
    throw new UserError(ErrorCode.InputInvalid, 'The at-rest key must be a Buffer of at least 16 bytes; use loadAtRestCipher(dataDir).');
  }
  const encryptionKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'aifactory at-rest aes-256-gcm v1', 32));
  const hashKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'aifactory at-rest hmac-sha256 v1', 32));
  const keyId = createHash('sha256').update(encryptionKey).digest('hex').slice(0, 16);
  // Key objects made once: given raw bytes, node:crypto imports the key again on every call, which
  // cost more than the encryption of a checkpoint itself (a profile of the eval benchmark).
  const encryptionKeyObject = createSecretKey(encryptionKey);
  const hashKeyObject = createSecretKey(hashKey);
  return {
    keyId,
    seal(plaintext, context) {
      const iv = randomBytes(ivLength);
      const cipher = createCipheriv('aes-256-gcm', encryptionKeyObject, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([magic, iv, body, cipher.getAuthTag()]);
    },
    open(sealed, context) {
      const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      if (!isSealedAtRest(bytes)) {
        throw new SystemError(
          ErrorCode.Internal,
          `The value stored at ${context} is not encrypted (or not in the at-rest format); plain-text rows are refused.`,
        );
      }
      const iv = bytes.subarray(magic.length, magic.length + ivLength);
      const tag = bytes.subarray(bytes.length - tagLength);
      const decipher = createDecipheriv('aes-256-gcm', encryptionKeyObject, iv);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(bytes.subarray(magic.length + ivLength, bytes.length - tagLength)), decipher.final()]);
      } catch (error) {
        throw new SystemError(
          ErrorCode.Internal,
          `The value stored at ${context} does not open with at-rest key ${keyId}: another key wrote it, or it was altered or moved.`,
          { cause: error },
        );
      }
    },
    digest(text) {
      return createHmac('sha256', hashKeyObject).update(text, 'utf8').digest('hex');
    },
  };
}

/** The workspace's at-rest cipher: the key in `<dataDir>/keys/at-rest.key`, generated (mode 0600) on first use. */
export async function loadAtRestCipher(dataDir: string): Promise<AtRestCipher> {
  return createAtRestCipher(await loadOrCreateKeyFile(dataDir, 'at-rest', 'At-rest key'));
}
