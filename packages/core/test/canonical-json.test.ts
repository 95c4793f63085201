import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, UserError } from '../src/index.ts';

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

  it('refuses values JSON cannot represent instead of hashing a guess', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
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
