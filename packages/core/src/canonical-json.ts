import { createHash } from 'node:crypto';
// canonicalize is the RFC 8785 reference implementation's author's package; hashing anywhere in
// aifactory goes through this file so that every hash sees exactly one serialisation.
import canonicalize from 'canonicalize';

/** RFC 8785 (JCS) canonical JSON of a value; throws on values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('Value has no canonical JSON form (undefined, a function or a symbol).');
  return text;
}

/** Lower-case hex sha256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of the canonical JSON of a value: the content hash of policies, prompts, arguments. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
