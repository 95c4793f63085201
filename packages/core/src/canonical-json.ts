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
 * numbers, booleans, null — in a form whose one native JSON.stringify writes exactly what
 * `canonicalize` writes (strings and numbers as JSON.stringify writes them, members whose value has
 * no JSON form left out, null for such elements), several times faster than the library's
 * key-by-key concatenation: a recorded step serialises a dozen payloads and argument sets. Copy on
 * write: an object whose keys are in UTF-16 order already, and an array, are returned as they are
 * when nothing inside them needed a copy (JSON.stringify then writes them as the library would);
 * only an object whose keys are out of order, and the containers above it, are copied, with the
 * keys inserted in order. Throws notPlain for anything else (toJSON, boxed primitives, class
 * instances, lone surrogates, non-finite numbers, index-like keys — which V8 would list first —
 * `__proto__`, deep nesting), so the library decides those, errors included. A property test holds
 * the two equal.
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
      // A deep-frozen value walked before has its form remembered; see frozenPlain.
      let mutableBefore = -1;
      if (Object.isFrozen(value)) {
        const remembered = frozenPlain.get(value);
        if (remembered !== undefined) return remembered;
        mutableBefore = mutableSeen;
      } else mutableSeen += 1;
      const plain = sortedContainer(value, depth);
      if (mutableBefore === mutableSeen) frozenPlain.set(value, plain);
      return plain;
    }
    default:
      // undefined, functions and symbols at the top: the library's answer (undefined) stands.
      throw notPlain;
  }
}

/**
 * The plain form of deep-frozen objects and arrays already walked (a policy set's refs, a static
 * decision shared by every model call its rules allow): they cannot change, so one walk serves
 * every record of them. Only a frozen value all of whose nested objects are frozen too is kept
 * (mutableSeen counts the unfrozen ones met, so a walk can tell); weakly, so it goes with its value.
 */
const frozenPlain = new WeakMap<object, unknown>();
let mutableSeen = 0;

/** sortedPlain of an object or array (not null), past the checks every object gets. */
function sortedContainer(value: object, depth: number): unknown {
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) throw notPlain;
    // Elements with no JSON form (and holes) are written as null by JSON.stringify too.
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index += 1) {
      const element: unknown = value[index];
      if (element === undefined || typeof element === 'function' || typeof element === 'symbol') {
        if (copy) copy[index] = null;
        continue;
      }
      const plain = sortedPlain(element, depth + 1);
      if (plain !== element && !copy) copy = value.slice(0, index);
      if (copy) copy[index] = plain;
    }
    return copy ?? value;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) throw notPlain;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let inOrder = true;
  for (let index = 1; index < keys.length && inOrder; index += 1) inOrder = keys[index - 1]! < keys[index]!;
  if (!inOrder) sortKeys(keys);
  // Members are copied from the first one that changed on (all of them when the keys were out of order).
  let copy: Record<string, unknown> | undefined = inOrder ? undefined : {};
  for (let index = 0; index < keys.length; index += 1) {
    const key = keys[index]!;
    const member: unknown = record[key];
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    if (!wellFormed(key) || key === '__proto__' || indexLikeKey.test(key)) throw notPlain;
    const plain = sortedPlain(member, depth + 1);
    if (plain !== member && !copy) {
      copy = {};
      for (let earlier = 0; earlier < index; earlier += 1) {
        const earlierMember: unknown = record[keys[earlier]!];
        if (earlierMember === undefined || typeof earlierMember === 'function' || typeof earlierMember === 'symbol') continue;
        copy[keys[earlier]!] = earlierMember;
      }
    }
    if (copy) copy[key] = plain;
  }
  return copy ?? value;
}

/** Beyond this many keys an object's keys are sorted by Array#sort, below it by insertion. */
const insertionSortKeys = 24;

/**
 * Sorts keys in place by UTF-16 code units (Array#sort's default order). A payload's objects have a
 * handful of keys, and Array#sort allocates a work copy of the array on every call: a tenth of what
 * a governed action allocated went there, so small arrays are sorted by insertion, allocating nothing.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > insertionSortKeys) {
    keys.sort();
    return;
  }
  for (let index = 1; index < keys.length; index += 1) {
    const key = keys[index]!;
    let at = index - 1;
    while (at >= 0 && keys[at]! > key) {
      keys[at + 1] = keys[at]!;
      at -= 1;
    }
    keys[at + 1] = key;
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
