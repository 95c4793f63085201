// Immutable fixture: trace rows written before store identities, start seals and checkpoint seals
// (migration 0006). Loaded into a store migrated to today's schema they must still verify, export
// and verify offline, accept new runs chained after them, and let a run held back then resume.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Store } from '@aifactory/store';
import { createRecorder, createSigner, exportJsonl, listRuns, verifyAll, verifyExport, verifyRun } from '../src/index.ts';
import { engines, warnIfNoPostgres } from './engines.ts';

warnIfNoPostgres('verification legacy store');

interface Fixture {
  keyId: string;
  publicKey: string;
  runs: Array<Record<string, unknown>>;
  events: Array<Record<string, unknown>>;
  seals: Array<Record<string, unknown>>;
}

const fixture = JSON.parse(
  readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'store-v0.json'), 'utf8'),
) as Fixture;

async function load(store: Store): Promise<void> {
  for (const run of fixture.runs) {
    await store.query(sql`INSERT INTO runs (id, agent, team, principal, status, input, metadata, replay_of, parent_run_id, started_at, ended_at, head_seq, head_hash)
      VALUES (${run.id}, ${run.agent}, ${run.team}, ${run.principal}, ${run.status}, ${JSON.stringify(run.input)}::jsonb, ${JSON.stringify(run.metadata)}::jsonb, ${run.replay_of}, ${run.parent_run_id},
              ${run.started_at}::timestamptz, ${run.ended_at}::timestamptz, ${run.head_seq}, ${run.head_hash})`);
  }
  for (const event of fixture.events) {
    await store.query(sql`INSERT INTO events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, redactions, erased_at, prev_hash, hash)
      VALUES (${event.run_id}, ${event.seq}, ${event.ts}::timestamptz, ${event.type}, ${event.actor}, ${event.payload}, ${event.payload_salt}, ${event.payload_hash}, ${event.schema_version},
              ${event.redactions === null ? null : JSON.stringify(event.redactions)}::jsonb, ${event.erased_at}::timestamptz, ${event.prev_hash}, ${event.hash})`);
  }
  for (const seal of fixture.seals) {
    // Seals of that time had no kind and no store id: the columns' defaults (final, null) apply.
    await store.query(sql`INSERT INTO seals (seq, run_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts)
      VALUES (${seal.seq}, ${seal.run_id}, ${seal.head_seq}, ${seal.head_hash}, ${seal.key_id}, ${seal.public_key}, ${seal.prev_seal_hash}, ${seal.seal_hash}, ${seal.signature}, ${seal.ts}::timestamptz)`);
  }
}

for (const engine of engines('t_legacy')) {
  describe.skipIf(engine.skip)(`a store recorded before store identities, on ${engine.name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await engine.open();
      await load(store);
    }, 180_000);
    afterAll(async () => {
      if (store) await engine.dispose(store);
    });

    it('verifies, pinned to its key: sealed runs intact, the open run reported as vouched for by nothing', async () => {
      const summary = await verifyAll(store, { trustedKeys: [fixture.keyId] });
      expect(summary.problem).toBeUndefined();
      expect(summary).toMatchObject({ ok: true, runs: 3, sealed: 2, pinned: true });
      expect(summary.warnings.join('\n')).toMatch(/Run 'legacy-held' carries no seal at all/);
      expect(await verifyRun(store, 'legacy-done', { trustedKeys: [fixture.keyId] })).toMatchObject({ ok: true, sealed: true, events: 7 });
      const listed = [];
      for await (const run of listRuns(store, {})) listed.push([run.id, run.sealed]);
      expect(listed).toEqual([
        ['legacy-done', true],
        ['legacy-held', false],
        ['legacy-failed', true],
      ]);
    });

    it('exports and verifies offline, then takes new runs chained after the old seals; the run held back then resumes', async () => {
      const lines: string[] = [];
      for await (const line of exportJsonl(store, {})) lines.push(line.trimEnd());
      const offline = await verifyExport(
        (async function* () {
          yield* lines;
        })(),
      );
      expect(offline.problem).toBeUndefined();
      expect(offline).toMatchObject({ ok: true, runs: 3, sealed: 2 });

      // A new key after the upgrade (the old one is gone): the chain goes on, both keys pinned.
      const signer = createSigner(generateKeyPairSync('ed25519').privateKey);
      const recorder = createRecorder(store, { signer });
      await recorder.setStatus('legacy-held', 'running');
      await recorder.record('legacy-held', {
        type: 'run.resumed',
        actor: 'runtime',
        payload: { step: 1, approval_id: 'ap2', outcome: 'approved' },
      });
      await recorder.finishRun('legacy-held', { status: 'completed', payload: { answer: 'Refunded 9000.' } });
      await recorder.startRun({ id: 'after-upgrade', agent: 'clerk', principal: 'dora' });
      await recorder.finishRun('after-upgrade', { status: 'completed' });
      const summary = await verifyAll(store, { trustedKeys: [fixture.keyId, signer.keyId] });
      expect(summary.problem).toBeUndefined();
      expect(summary).toMatchObject({ ok: true, runs: 4, sealed: 4 });
    });
  });
}
