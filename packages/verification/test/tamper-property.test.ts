// Property: every single mutation of recorded, sealed runs — made as a superuser would, behind the
// append-only triggers — is detected by verifyAll. Each mutation runs inside a transaction that is
// rolled back after verification, so the next one starts from the intact store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import { sql, type Store } from '@aifactory/store';
import {
  createRecorder,
  createSigner,
  erasePayloads,
  eventHash,
  genesisHash,
  newSalt,
  payloadHash,
  sealHash,
  sealMessage,
  verifyAll,
  type SealSigner,
} from '../src/index.ts';
import { engines, warnIfNoPostgres } from './engines.ts';

warnIfNoPostgres('verification');

type Mutation =
  | { kind: 'editPayloadByte'; run: number; event: number; position: number; char: number }
  | { kind: 'editField'; run: number; event: number; field: 'actor' | 'ts' | 'type' | 'payload_hash' }
  | { kind: 'deleteEvent'; run: number; event: number }
  | { kind: 'swapEvents'; run: number; first: number; second: number }
  | { kind: 'insertEvent'; run: number; position: number }
  | { kind: 'dropRun'; run: number }
  | { kind: 'cutTail'; run: number; keep: number }
  | { kind: 'replaceSeal'; run: number; variant: number }
  | { kind: 'reorderRuns'; first: number; second: number };

const index = fc.nat(1000);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('editPayloadByte' as const),
    run: index,
    event: index,
    position: fc.nat(10_000),
    char: fc.integer({ min: 32, max: 126 }),
  }),
  fc.record({
    kind: fc.constant('editField' as const),
    run: index,
    event: index,
    field: fc.constantFrom('actor' as const, 'ts' as const, 'type' as const, 'payload_hash' as const),
  }),
  fc.record({ kind: fc.constant('deleteEvent' as const), run: index, event: index }),
  fc.record({ kind: fc.constant('swapEvents' as const), run: index, first: index, second: index }),
  fc.record({ kind: fc.constant('insertEvent' as const), run: index, position: index }),
  fc.record({ kind: fc.constant('dropRun' as const), run: index }),
  fc.record({ kind: fc.constant('cutTail' as const), run: index, keep: index }),
  fc.record({ kind: fc.constant('replaceSeal' as const), run: index, variant: fc.nat(3) }),
  fc.record({ kind: fc.constant('reorderRuns' as const), first: index, second: index }),
);

const runLengths = [5, 9, 6, 8, 7, 5];

for (const engine of engines('t_prop')) {
  describe.skipIf(engine.skip)(`tamper detection on ${engine.name}`, () => {
    let store: Store;
    let signer: SealSigner;
    const attacker = createSigner(generateKeyPairSync('ed25519').privateKey);
    const runIds = runLengths.map((_, position) => `prop-${position}`);

    beforeAll(async () => {
      // One connection, so the mutation, the verification and the rollback share a transaction.
      store = await engine.open({ maxConnections: 1 });
      signer = createSigner(generateKeyPairSync('ed25519').privateKey);
      const recorder = createRecorder(store, { signer });
      for (const [position, runId] of runIds.entries()) {
        await recorder.startRun({ id: runId, agent: 'prop', principal: 'auditor', input: { text: `case ${position}` } });
        for (let step = 1; step < runLengths[position]! - 1; step += 1) {
          await recorder.record(runId, {
            type: 'tool.called',
            actor: 'prop',
            payload: { step, name: 'ledger.post', args: { amount: step * 17, memo: `entry ${step}` } },
          });
        }
        await recorder.finishRun(runId, { status: 'completed', payload: { answer: `done ${position}` } });
      }
      await erasePayloads(store, { runId: 'prop-1', seqs: [3] });
    });
    afterAll(async () => {
      if (store) await engine.dispose(store);
    });

    async function rows<Row>(statement: ReturnType<typeof sql>): Promise<Row[]> {
      return store.query<Row>(statement);
    }

    async function apply(change: Mutation): Promise<void> {
      const runOf = (value: number) => runIds[value % runIds.length]!;
      const lengthOf = (runId: string) => runLengths[runIds.indexOf(runId)]!;
      switch (change.kind) {
        case 'editPayloadByte': {
          const runId = runOf(change.run);
          const seq = (change.event % lengthOf(runId)) + 1;
          const [row] = await rows<{ payload: string | null; payload_hash: string }>(
            sql`SELECT payload, payload_hash FROM events WHERE run_id = ${runId} AND seq = ${seq}`,
          );
          // An erased event has no payload left to edit; edit its payload hash instead.
          const column = row!.payload === null ? 'payload_hash' : 'payload';
          const text = row!.payload ?? row!.payload_hash;
          const at = change.position % text.length;
          let replacement = String.fromCharCode(change.char);
          if (replacement === text[at]) replacement = String.fromCharCode(((change.char - 32 + 1) % 95) + 32);
          const edited = text.slice(0, at) + replacement + text.slice(at + 1);
          await store.query(sql`UPDATE events SET ${sql.raw(column)} = ${edited} WHERE run_id = ${runId} AND seq = ${seq}`);
          return;
        }
        case 'editField': {
          const runId = runOf(change.run);
          const seq = (change.event % lengthOf(runId)) + 1;
          const updates = {
            actor: sql`actor = actor || 'x'`,
            ts: sql`ts = ts + interval '1 millisecond'`,
            type: sql`type = CASE WHEN type = 'tool.returned' THEN 'tool.failed' ELSE 'tool.returned' END`,
            payload_hash: sql`payload_hash = md5(payload_hash) || substr(payload_hash, 33)`,
          };
          await store.query(sql`UPDATE events SET ${updates[change.field]} WHERE run_id = ${runId} AND seq = ${seq}`);
          return;
        }
        case 'deleteEvent': {
          const runId = runOf(change.run);
          await store.query(sql`DELETE FROM events WHERE run_id = ${runId} AND seq = ${(change.event % lengthOf(runId)) + 1}`);
          return;
        }
        case 'swapEvents': {
          const runId = runOf(change.run);
          const length = lengthOf(runId);
          const first = (change.first % length) + 1;
          let second = (change.second % length) + 1;
          if (second === first) second = (first % length) + 1;
          await store.query(sql`UPDATE events SET seq = -1 WHERE run_id = ${runId} AND seq = ${first}`);
          await store.query(sql`UPDATE events SET seq = ${first} WHERE run_id = ${runId} AND seq = ${second}`);
          await store.query(sql`UPDATE events SET seq = ${second} WHERE run_id = ${runId} AND seq = -1`);
          return;
        }
        case 'insertEvent': {
          const runId = runOf(change.run);
          const position = (change.position % (lengthOf(runId) + 1)) + 1;
          await store.query(sql`UPDATE events SET seq = -(seq + 1) WHERE run_id = ${runId} AND seq >= ${position}`);
          await store.query(sql`UPDATE events SET seq = -seq WHERE run_id = ${runId} AND seq < 0`);
          const [previous] = await rows<{ hash: string }>(sql`SELECT hash FROM events WHERE run_id = ${runId} AND seq = ${position - 1}`);
          // The forger computes a valid hash for the forged event; what follows it no longer links.
          const prevHash = previous?.hash ?? genesisHash;
          const payload = JSON.stringify({ step: 99, name: 'payments.refund', args: { amount: 1e6 } });
          const salt = newSalt();
          const ts = new Date().toISOString();
          const hashOfPayload = payloadHash(salt, payload);
          const hash = eventHash(prevHash, {
            runId,
            seq: position,
            ts,
            type: 'tool.called',
            actor: 'forger',
            payloadHash: hashOfPayload,
            schemaVersion: 1,
          });
          await store.query(sql`INSERT INTO events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, prev_hash, hash)
            VALUES (${runId}, ${position}, ${ts}::timestamptz, 'tool.called', 'forger', ${payload}, ${salt}, ${hashOfPayload}, 1, ${prevHash}, ${hash})`);
          return;
        }
        case 'dropRun': {
          const runId = runOf(change.run);
          await store.query(sql`DELETE FROM events WHERE run_id = ${runId}`);
          await store.query(sql`DELETE FROM runs WHERE id = ${runId}`);
          await store.query(sql`DELETE FROM seals WHERE run_id = ${runId}`);
          return;
        }
        case 'cutTail': {
          const runId = runOf(change.run);
          const keep = (change.keep % (lengthOf(runId) - 1)) + 1;
          await store.query(sql`DELETE FROM events WHERE run_id = ${runId} AND seq > ${keep}`);
          return;
        }
        case 'replaceSeal': {
          const runId = runOf(change.run);
          const [seal] = await rows<{
            seq: number;
            store_id: string | null;
            head_seq: number;
            head_hash: string;
            prev_seal_hash: string;
            ts: string;
            signature: string;
          }>(
            sql`SELECT seq::int AS seq, store_id, head_seq, head_hash, prev_seal_hash, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts, signature FROM seals WHERE run_id = ${runId} AND kind = 'final'`,
          );
          const fields = {
            kind: 'final' as const,
            storeId: seal!.store_id,
            seq: Number(seal!.seq),
            runId,
            headSeq: Number(seal!.head_seq),
            headHash: seal!.head_hash,
            prevSealHash: seal!.prev_seal_hash,
            ts: seal!.ts,
          };
          if (change.variant === 0) {
            // Re-signed, unchanged, by a key nobody trusts.
            const message = sealMessage({ ...fields, keyId: attacker.keyId });
            const signature = attacker.sign(message);
            await store.query(
              sql`UPDATE seals SET key_id = ${attacker.keyId}, public_key = ${attacker.publicKey}, signature = ${signature}, seal_hash = ${sealHash(message, signature)} WHERE run_id = ${runId} AND kind = 'final'`,
            );
          } else if (change.variant === 1) {
            // Another seal's signature pasted in.
            await store.query(
              sql`UPDATE seals SET signature = (SELECT signature FROM seals WHERE run_id <> ${runId} ORDER BY seq LIMIT 1) WHERE run_id = ${runId} AND kind = 'final'`,
            );
          } else if (change.variant === 2) {
            // Pointed at an earlier head, to hide the events after it.
            const [earlier] = await rows<{ hash: string }>(sql`SELECT hash FROM events WHERE run_id = ${runId} AND seq = 2`);
            await store.query(sql`UPDATE seals SET head_seq = 2, head_hash = ${earlier!.hash} WHERE run_id = ${runId} AND kind = 'final'`);
          } else {
            // A whole forged seal: the forger's key, a fresh seal hash, and the next seal relinked to it.
            const message = sealMessage({ ...fields, keyId: attacker.keyId, ts: new Date().toISOString() });
            const signature = attacker.sign(message);
            const forgedHash = sealHash(message, signature);
            await store.query(
              sql`UPDATE seals SET key_id = ${attacker.keyId}, public_key = ${attacker.publicKey}, signature = ${signature}, seal_hash = ${forgedHash} WHERE run_id = ${runId} AND kind = 'final'`,
            );
            await store.query(sql`UPDATE seals SET prev_seal_hash = ${forgedHash} WHERE seq = ${fields.seq + 1}`);
          }
          return;
        }
        case 'reorderRuns': {
          const first = runOf(change.first);
          let second = runOf(change.second);
          if (second === first) second = runOf(change.first + 1);
          // Their final seals trade places in the chain.
          await store.query(sql`UPDATE seals SET seq = -seq WHERE run_id IN (${first}, ${second}) AND kind = 'final'`);
          await store.query(
            sql`UPDATE seals SET seq = CASE WHEN run_id = ${first} THEN (SELECT -seq FROM seals WHERE run_id = ${second} AND kind = 'final') ELSE (SELECT -seq FROM seals WHERE run_id = ${first} AND kind = 'final') END WHERE run_id IN (${first}, ${second}) AND kind = 'final'`,
          );
          return;
        }
      }
    }

    it('starts from a store that verifies', async () => {
      const summary = await verifyAll(store, { signers: [signer] });
      expect(summary).toMatchObject({ ok: true, runs: runIds.length, erased: 1, sealed: runIds.length });
    });

    it('detects every one of 1,100 random single mutations', { timeout: 300_000 }, async () => {
      const seen = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(mutation, async (change) => {
          await store.query(sql.raw('BEGIN'));
          try {
            await store.query(sql.raw('SET LOCAL session_replication_role = replica'));
            await apply(change);
            const summary = await verifyAll(store, { signers: [signer] });
            seen.set(change.kind, (seen.get(change.kind) ?? 0) + 1);
            if (summary.ok) throw new Error(`Mutation went undetected: ${JSON.stringify(change)}`);
          } finally {
            await store.query(sql.raw('ROLLBACK'));
          }
        }),
        { numRuns: 1100 },
      );
      expect([...seen.values()].reduce((sum, count) => sum + count, 0)).toBe(1100);
      expect(seen.size).toBe(9);
      // Rolled back: the store is intact again.
      expect((await verifyAll(store, { signers: [signer] })).ok).toBe(true);
    });
  });
}
