// Verification has Postgres write each ts as the ISO text its hash covers (to_char) instead of
// parsing a Date and formatting it again. These cases hold that it hashes exactly the text a
// recorder whose clock read that instant hashed (Date#toISOString), for random and edge timestamps
// on both engines — years 1..99 included, which the drivers' own Date parsing misreads — and that
// the times to_char does not write (sub-millisecond ones, never recorded) take the Date path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql, type Store } from '@aifactory/store';
import { eventHash, genesisHash, newSalt, payloadHash, verifyAll, verifyRun } from '../src/index.ts';
import { queryArrays, toDate } from '../src/store-access.ts';
import { engines, warnIfNoPostgres } from './engines.ts';

warnIfNoPostgres('verification');

const edges = [
  '0099-12-31T23:59:59.999Z',
  '0100-01-01T00:00:00.000Z',
  '0999-06-30T08:07:06.050Z',
  '1582-10-10T12:00:00.001Z',
  '1900-03-01T00:00:00.000Z',
  '1969-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00.000Z',
  '2000-02-29T23:59:59.999Z',
  '9999-12-31T23:59:59.999Z',
  '2026-01-01T00:00:00.123456Z',
  '2026-01-01T00:00:00.000001Z',
  '0050-01-01T00:00:00.000Z',
  '0001-01-01T00:00:00.000Z',
];

/** A ts as text: any instant in years 1..9999, whole milliseconds or with microseconds. */
const timestamp = fc
  .tuple(
    fc.date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }),
    fc.option(fc.integer({ min: 1, max: 999 }), { nil: undefined }),
  )
  .map(([date, microseconds]) =>
    microseconds === undefined ? date.toISOString() : `${date.toISOString().slice(0, 23)}${String(microseconds).padStart(3, '0')}Z`,
  );

for (const engine of engines('t_scants')) {
  describe.skipIf(engine.skip)(`verification scan timestamps on ${engine.name}`, () => {
    let store: Store;
    let runs = 0;

    beforeAll(async () => {
      store = await engine.open();
      await store.query(sql.raw('CREATE TABLE ts_probe (run_id text NOT NULL, position integer NOT NULL, ts timestamptz NOT NULL)'));
    });
    afterAll(async () => {
      if (store) await engine.dispose(store);
    });

    /** Records a run whose events carry these timestamps, each hashed over the text a recorder would have; the run id and the count recorded. */
    async function recordRun(timestamps: string[]): Promise<{ runId: string; recorded: number }> {
      const runId = `ts-${String(runs++).padStart(4, '0')}`;
      for (const [position, ts] of timestamps.entries())
        await store.query(sql`INSERT INTO ts_probe VALUES (${runId}, ${position}, ${ts}::timestamptz)`);
      const rows = await queryArrays(store, 'SELECT ts FROM ts_probe WHERE run_id = $1 ORDER BY position', [runId]);
      await store.query(sql`INSERT INTO runs (id, agent, principal, status, started_at) VALUES (${runId}, 'ts', 'ts', 'running', now())`);
      let previous = genesisHash;
      let seq = 0;
      for (const [position, row] of rows.entries()) {
        // A whole-millisecond instant is what a recorder's clock gives: it hashed toISOString, the
        // input itself. A recorder never writes finer times; for those the Date path is the reference.
        let text: string;
        if (/\.\d{3}Z$/.test(timestamps[position]!)) text = timestamps[position]!;
        else {
          try {
            text = toDate(row[0]).toISOString();
          } catch {
            continue; // Not a time the Date path can write either (no event can hold it and verify).
          }
        }
        seq += 1;
        const salt = newSalt();
        const hashOfPayload = payloadHash(salt, '{}');
        const hash = eventHash(previous, {
          runId,
          seq,
          ts: text,
          type: 'tool.called',
          actor: 'ts',
          payloadHash: hashOfPayload,
          schemaVersion: 1,
        });
        await store.query(sql`INSERT INTO events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, prev_hash, hash)
          VALUES (${runId}, ${seq}, ${timestamps[position]!}::timestamptz, 'tool.called', 'ts', '{}', ${salt}, ${hashOfPayload}, 1, ${previous}, ${hash})`);
        previous = hash;
      }
      // A run none of whose times an event could hold has no log; a runs row without one is what
      // verification reports as a removed log, so the probe leaves no row behind for it.
      if (seq === 0) await store.query(sql`DELETE FROM runs WHERE id = ${runId}`);
      return { runId, recorded: seq };
    }

    it('hashes every ts as its recorder did: edge years, whole and sub-millisecond times', async () => {
      const { recorded } = await recordRun(edges);
      expect(recorded).toBe(edges.length);
      const summary = await verifyAll(store);
      expect(summary.problem).toBeUndefined();
      expect(summary).toMatchObject({ ok: true, failed: 0 });
    });

    it('hashes every ts as its recorder did, for random instants in years 1..9999', { timeout: 60_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(timestamp, { minLength: 1, maxLength: 25 }), async (timestamps) => {
          await recordRun(timestamps);
          const summary = await verifyAll(store);
          expect(summary.problem).toBeUndefined();
          expect(summary.ok).toBe(true);
        }),
        { numRuns: 20 },
      );
    });

    it('detects a ts moved back 2000 years, which the drivers would read back as unchanged', async () => {
      const { runId } = await recordRun(['2026-05-01T10:00:00.000Z', '2026-05-01T10:00:01.000Z']);
      expect((await verifyRun(store, runId)).ok).toBe(true);
      await store.query(sql.raw('ALTER TABLE events DISABLE TRIGGER USER'));
      await store.query(sql`UPDATE events SET ts = ts - interval '2000 years' WHERE run_id = ${runId} AND seq = 2`);
      const report = await verifyRun(store, runId);
      expect(report.problem).toMatchObject({ kind: 'hash_mismatch', seq: 2 });
      const summary = await verifyAll(store);
      expect(summary.failures.map((failure) => [failure.runId, failure.problem?.kind])).toEqual([[runId, 'hash_mismatch']]);
    });
  });
}
