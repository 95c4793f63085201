// Immutable fixtures: an export made by version 1 of the format must verify offline forever; a
// future version and a tampered copy must not.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyExport, verifyExportFile } from '../src/index.ts';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'export-v1.jsonl');
const keyId = 'ed25519:f01416a6e1f4fa7f';

async function* lines(text: string): AsyncGenerator<string> {
  yield* text.split('\n').filter((line) => line !== '');
}

describe('export format v1 fixture', () => {
  it('verifies offline: a sealed run with a redaction and an erased payload, pinned to its key id', async () => {
    const summary = await verifyExportFile(fixture, { trustedKeys: [keyId] });
    expect(summary.problem).toBeUndefined();
    expect(summary).toMatchObject({
      ok: true,
      runs: 1,
      events: 7,
      erased: 1,
      sealed: 1,
      pinned: true,
      trailer: { present: true, signed: true, ok: true },
    });
  });

  it('refuses a future format version instead of guessing', async () => {
    const text = readFileSync(fixture, 'utf8').replace('"version":1', '"version":3');
    expect((await verifyExport(lines(text))).problem?.message).toMatch(
      /export version 3 is not supported \(this verifier reads versions 1 and 2\)/,
    );
  });

  it('catches a changed character in an event and a prototype key smuggled into a payload', async () => {
    const text = readFileSync(fixture, 'utf8');
    expect(text).toContain('"answer":"Refunded 40 EUR."');
    const edited = await verifyExport(lines(text.replace('Refunded 40 EUR.', 'Refunded 90 EUR.')), { trustedKeys: [keyId] });
    expect(edited.failures[0]?.problem).toMatchObject({ seq: 7, kind: 'payload_mismatch' });
    const injected = text.replace('"answer":"Refunded 40 EUR."', '"__proto__":{"admin":true},"answer":"Refunded 40 EUR."');
    const summary = await verifyExport(lines(injected), { trustedKeys: [keyId] });
    expect(summary.ok).toBe(false);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('names a missing file', async () => {
    await expect(verifyExportFile(`${fixture}.missing`)).rejects.toThrow(/cannot be read/);
  });
});
