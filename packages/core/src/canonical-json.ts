import { hash } from 'node:crypto';
// canonicalize is the RFC 8785 reference implementation's author's package; hashing anywhere in
// aifactory goes through this file so that every hash sees exactly one serialisation.
import canonicalize from 'canonicalize';

/** RFC 8785 (JCS) canonical JSON of a value; throws on values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  const fast = plainCanonical(value, 0);
  if (fast !== undefined) return fast;
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('Value has no canonical JSON form (undefined, a function or a symbol).');
  return text;
}

/** Whether a string has no lone surrogate (ES2024 String#isWellFormed, which the library checks too). */
const wellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Nesting past this goes to the library, which also tells a cycle from a deep value. */
const maxPlainDepth = 64;

/**
 * The canonical JSON of plain data — objects with Object's prototype (or none), arrays, well-formed
 * strings, finite numbers, booleans, null — written the way `canonicalize` writes it (keys in UTF-16
 * order, strings and numbers as JSON.stringify writes them, members whose value has no JSON form
 * left out, and null for such elements), but recursively, without its explicit stack, frames and
 * cycle set: a recorded step serialises a dozen payloads and argument sets. Undefined for anything
 * else (toJSON, boxed primitives, class instances, lone surrogates, non-finite numbers, deep nesting),
 * so the library decides those, errors included. A property test holds the two equal.
 */
function plainCanonical(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return wellFormed(value) ? JSON.stringify(value) : undefined;
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= maxPlainDepth) return undefined;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return undefined;
        let text = '[';
        for (let index = 0; index < value.length; index += 1) {
          const element: unknown = value[index];
          const written = element === undefined || typeof element === 'function' || typeof element === 'symbol' ? 'null' : plainCanonical(element, depth + 1);
          if (written === undefined) return undefined;
          text += index === 0 ? written : `,${written}`;
        }
        return `${text}]`;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return undefined;
      const keys = Object.keys(value).sort();
      let text = '{';
      let first = true;
      for (const key of keys) {
        const member: unknown = (value as Record<string, unknown>)[key];
        if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
        const written = plainCanonical(member, depth + 1);
        if (written === undefined || !wellFormed(key)) return undefined;
        text += `${first ? '' : ','}${JSON.stringify(key)}:${written}`;
        first = false;
      }
      return `${text}}`;
    }
    default:
      return undefined;
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
