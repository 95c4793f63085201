// Exports as an auditor receives them: with a pinned key, nothing unsigned is vouched for, and a
// complete (--all) export must hold exactly the runs its signed trailer lists and reach the signed
// checkpoint of the seal chain in its header.
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { openStore, type Store } from '@aifactory/store';
import { createRecorder, createSigner, exportJsonl, verifyExport } from '../src/index.ts';

async function* iterate(lines: string[]): AsyncGenerator<string> {
  yield* lines;
}

describe('export verification with a pinned key', () => {
  let store: Store;
  const signer = createSigner(generateKeyPairSync('ed25519').privateKey);
  let all: string[];

  beforeAll(async () => {
    store = await openStore();
    const recorder = createRecorder(store, { signer });
    for (const id of ['e-1', 'e-2', 'e-3']) {
      await recorder.startRun({ id, agent: 'clerk', principal: 'alice' });
      await recorder.record(id, {
        type: 'tool.called',
        actor: 'clerk',
        payload: { step: 1, name: 'payments.refund', args: { amount: 40 } },
      });
      await recorder.finishRun(id, { status: 'completed' });
    }
    all = [];
    for await (const line of exportJsonl(store, {}, { signer })) all.push(line.trimEnd());
  }, 180_000);
  afterAll(async () => {
    await store?.close();
  });

  it('verifies the signed complete export, its checkpoint and run list included', async () => {
    const summary = await verifyExport(iterate(all), { trustedKeys: [signer.keyId] });
    expect(summary.problem).toBeUndefined();
    expect(summary).toMatchObject({ ok: true, runs: 3, sealed: 3, trailer: { present: true, signed: true, ok: true } });
    expect(JSON.parse(all[0]!)).toMatchObject({ version: 2, complete: true, checkpoint: { seal_seq: 6, key_id: signer.keyId } });
  });

  it('fails an unsigned or stripped trailer, and a missing one', async () => {
    const trailer = JSON.parse(all.at(-1)!) as Record<string, unknown>;
    const { signature: _signature, key_id: _keyId, ...unsigned } = trailer;
    const stripped = [...all.slice(0, -1), JSON.stringify(unsigned)];
    expect((await verifyExport(iterate(stripped), { trustedKeys: [signer.keyId] })).problem?.message).toMatch(
      /trailer is not signed, but a key was pinned/,
    );
    // Unpinned, the same file only warns (nothing was promised).
    expect((await verifyExport(iterate(stripped))).warnings.join('\n')).toMatch(/trailer is not signed/);
    expect((await verifyExport(iterate(all.slice(0, -1)), { trustedKeys: [signer.keyId] })).problem?.message).toMatch(
      /without its trailer/,
    );
  });

  it('fails a complete export that drops a run or adds an invented one, even with the digest recomputed', async () => {
    const withoutRun = all.filter((line) => !line.includes('"e-2"'));
    expect(withoutRun.length).toBeLessThan(all.length);
    const summary = await verifyExport(iterate(withoutRun), { trustedKeys: [signer.keyId] });
    expect(summary.ok).toBe(false);
    // The forger recomputes the digest and count but cannot sign: the pinned key refuses it.
    const { createHash } = await import('node:crypto');
    const body = withoutRun.slice(0, -1);
    const digest = createHash('sha256');
    for (const line of body) digest.update(`${line}\n`);
    const runs = createHash('sha256');
    for (const line of body) if (line.startsWith('{"kind":"run"')) runs.update(`${(JSON.parse(line) as { id: string }).id}\n`);
    const forgedTrailer = JSON.stringify({
      kind: 'trailer',
      lines: body.length,
      runs: 2,
      events: 6,
      seals: 4,
      digest: digest.digest('hex'),
      runs_digest: runs.digest('hex'),
    });
    const forged = await verifyExport(iterate([...body, forgedTrailer]), { trustedKeys: [signer.keyId] });
    expect(forged.ok).toBe(false);
    expect(forged.problem?.message).toMatch(/not signed, but a key was pinned|checkpoint/);
  });
});
