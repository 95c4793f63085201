import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, UserError } from '../src/index.ts';

/** What the library says: its text, or that it throws. */
function reference(value: unknown): { text: string | undefined } | { throws: true } {
  try {
    return { text: canonicalize(value) };
  } catch {
    return { throws: true };
  }
}

function ours(value: unknown): { text: string | undefined } | { throws: true } {
  try {
    return { text: canonicalJson(value) };
  } catch (error) {
    // canonicalJson refuses what the library maps to undefined, with a TypeError.
    if (error instanceof TypeError && /no canonical JSON form/.test(error.message)) return { text: undefined };
    return { throws: true };
  }
}

// Strings with what the canonical form must get right: escapes, non-BMP characters, lone surrogates.
const awkwardString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', '\u2028', '"\\', '\ud800', 'a\udc00b', '😀', '\u0000\u001f', '__proto__', 'constructor'),
);
const awkwardNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY),
);

describe('canonicalJson', () => {
  it('sorts keys and normalises numbers as RFC 8785 requires', () => {
    expect(canonicalJson({ b: 1, a: [1e21, 0.5, 'x'], c: { z: null, y: true } })).toBe(
      '{"a":[1e+21,0.5,"x"],"b":1,"c":{"y":true,"z":null}}',
    );
  });

  it('gives equal hashes for objects that differ only in key order', () => {
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    expect(contentHash({ a: 1, b: 2 })).not.toBe(contentHash({ a: 1, b: 3 }));
  });

  it('writes exactly what the canonicalize library writes, for any value, and refuses exactly what it refuses', () => {
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        awkwardString,
        awkwardNumber,
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie('value')),
        fc.dictionary(awkwardString, tie('value')),
        fc.dictionary(awkwardString, tie('value'), { noNullPrototype: false }),
        fc.anything({
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withObjectString: true,
          withSparseArray: true,
          withTypedArray: true,
          withBigInt: false,
        }),
      ),
    }));
    fc.assert(
      fc.property(value, (candidate) => {
        expect(ours(candidate)).toEqual(reference(candidate));
      }),
      { numRuns: 3000 },
    );
  });

  it('follows toJSON, and refuses cycles and lone surrogates as the library does', () => {
    const dated = { when: new Date(0), nested: { toJSON: () => ({ b: 1, a: 2 }) } };
    expect(canonicalJson(dated)).toBe(canonicalize(dated));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/Circular/);
    expect(() => canonicalJson({ text: 'a\ud800' })).toThrow(/surrogate/);
    expect(() => canonicalJson([Number.NaN])).toThrow(/NaN/);
    const deep = JSON.parse(`${'['.repeat(200)}1${']'.repeat(200)}`) as unknown;
    expect(canonicalJson(deep)).toBe(canonicalize(deep));
  });

  it('refuses values JSON cannot represent instead of hashing a guess', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });

  it('writes a frozen value as it is now: a frozen object holding a mutable one is read afresh after that one changes', () => {
    const frozen = Object.freeze({ z: Object.freeze(['b', 'a']), a: Object.freeze({ y: 1, x: 2 }) });
    expect(canonicalJson(frozen)).toBe('{"a":{"x":2,"y":1},"z":["b","a"]}');
    expect(canonicalJson({ decision: frozen, step: 1 })).toBe(canonicalize({ decision: frozen, step: 1 }));
    const counters = { steps: 1 };
    const shell = Object.freeze({ run: counters, name: 'r' });
    expect(canonicalJson(shell)).toBe('{"name":"r","run":{"steps":1}}');
    counters.steps = 2;
    expect(canonicalJson(shell)).toBe('{"name":"r","run":{"steps":2}}');
    expect(canonicalJson({ wrapped: shell })).toBe('{"wrapped":{"name":"r","run":{"steps":2}}}');
  });
});

describe('UserError', () => {
  it('formats its location like a compiler diagnostic', () => {
    const error = new UserError('POLICY_INVALID', 'Unknown authority "maybe".', {
      location: { file: 'p.yaml', line: 3, column: 5, path: 'spec.rules[0].authority' },
    });
    expect(error.format()).toBe('p.yaml:3:5: spec.rules[0].authority: Unknown authority "maybe".');
    expect(JSON.stringify(error)).not.toContain('stack');
  });
});
