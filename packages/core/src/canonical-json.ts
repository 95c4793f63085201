import { hash } from 'node:crypto';
// canonicalize is the RFC 8785 reference implementation's author's package; hashing anywhere in
// aifactory goes through this file so that every hash sees exactly one serialisation.
import canonicalize from 'canonicalize';

/** RFC 8785 (JCS) canonical JSON of a value; throws on values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  let plain: unknown;
  try {
    plain = sortedPlain(value, 0);
  } catch (error) {
    if (error !== notPlain) throw error;
    plain = notPlain;
  }
  if (plain !== notPlain && plain !== undefined) return JSON.stringify(plain);
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('Value has no canonical JSON form (undefined, a function or a symbol).');
  return text;
}

/** Whether a string has no lone surrogate (ES2024 String#isWellFormed, which the library checks too). */
const wellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Nesting past this goes to the library, which also tells a cycle from a deep value. */
const maxPlainDepth = 64;
/** Keys V8 lists before all others in numeric order (array indices), whatever order they were added in. */
const indexLikeKey = /^(?:0|[1-9]\d{0,9})$/;
/** Thrown (and caught in canonicalJson) when a value is not plain data: the library then decides. */
const notPlain = Symbol('not plain');

/**
 * Plain data — objects with Object's prototype (or none), arrays, well-formed strings, finite
 * numbers, booleans, null — copied with every object's keys inserted in UTF-16 order, so that one
 * native JSON.stringify writes exactly what `canonicalize` writes (strings and numbers as
 * JSON.stringify writes them, members whose value has no JSON form left out, null for such
 * elements), several times faster than the library's key-by-key concatenation: a recorded step
 * serialises a dozen payloads and argument sets. Throws notPlain for anything else (toJSON, boxed
 * primitives, class instances, lone surrogates, non-finite numbers, index-like keys — which V8
 * would list first — `__proto__`, deep nesting), so the library decides those, errors included.
 * A property test holds the two equal.
 */
function sortedPlain(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      if (!wellFormed(value)) throw notPlain;
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw notPlain;
      return value;
    case 'boolean':
      return value;
    case 'object': {
      if (value === null) return null;
      if (depth >= maxPlainDepth || typeof (value as { toJSON?: unknown }).toJSON === 'function') throw notPlain;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) throw notPlain;
        const copy: unknown[] = new Array(value.length);
        for (let index = 0; index < value.length; index += 1) {
          const element: unknown = value[index];
          copy[index] =
            element === undefined || typeof element === 'function' || typeof element === 'symbol' ? null : sortedPlain(element, depth + 1);
        }
        return copy;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) throw notPlain;
      const copy: Record<string, unknown> = {};
      for (const key of Object.keys(value).sort()) {
        const member: unknown = (value as Record<string, unknown>)[key];
        if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
        if (!wellFormed(key) || key === '__proto__' || indexLikeKey.test(key)) throw notPlain;
        copy[key] = sortedPlain(member, depth + 1);
      }
      return copy;
    }
    default:
      // undefined, functions and symbols at the top: the library's answer (undefined) stands.
      throw notPlain;
  }
}

/** Lower-case hex sha256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  // The one-shot digest: no Hash object per call (contentHash runs several times per governed step).
  return hash('sha256', data, 'hex');
}

/** sha256 of the canonical JSON of a value: the content hash of policies, prompts, arguments. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
