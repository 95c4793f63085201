// The trace tables on both engines: append-only events and seals (every role is refused UPDATE,
// DELETE and TRUNCATE), with the one erasure update let through.
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { openStore, sql, type Store } from '../src/index.ts';

const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!postgresUrl)
  console.warn('[store] AIFACTORY_TEST_DATABASE_URL is not set: Postgres trace-table tests are skipped (PGlite tests still run).');

const engines: Array<{ name: string; open: () => Promise<Store>; skip: boolean }> = [
  { name: 'pglite', open: () => openStore(), skip: false },
  {
    name: 'postgres',
    open: () => openStore({ databaseUrl: postgresUrl!, schema: `t_trace_${randomUUID().slice(0, 8)}` }),
    skip: !postgresUrl,
  },
];

const row = (seq: number) => sql`INSERT INTO events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, prev_hash, hash)
  VALUES ('run-g', ${seq}, now(), 'tool.called', 'agent', '{"step":1}', 'salt', 'ph', 'prev', ${`h${seq}`})`;

for (const engine of engines) {
  describe.skipIf(engine.skip)(`trace tables on ${engine.name}`, () => {
    let store: Store | undefined;
    afterAll(async () => {
      if (!store) return;
      if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
      await store.close();
    });

    it('refuses to change or delete recorded events and seals, and refuses a second event at the same seq', async () => {
      store = await engine.open();
      await store.query(row(1));
      await store.query(row(2));
      await expect(store.query(row(2))).rejects.toThrow();
      await expect(store.query(sql`UPDATE events SET actor = 'mallory' WHERE seq = 1`)).rejects.toThrow();
      await expect(store.query(sql`DELETE FROM events WHERE seq = 2`)).rejects.toThrow();
      await expect(store.query(sql`TRUNCATE events`)).rejects.toThrow();
      await store.query(sql`INSERT INTO seals (seq, run_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts)
        VALUES (1, 'run-g', 2, 'h2', 'k', 'pk', 'p', 's', 'sig', now())`);
      await expect(store.query(sql`UPDATE seals SET head_seq = 1`)).rejects.toThrow();
      await expect(store.query(sql`DELETE FROM seals`)).rejects.toThrow();
      const counts = await store.query<{ events: number; seals: number }>(
        sql`SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM seals) AS seals`,
      );
      expect(counts[0]).toEqual({ events: 2, seals: 1 });
    });

    it('lets exactly the erasure update through: payload and salt to null, erased_at set, nothing else', async () => {
      await expect(store!.query(sql`UPDATE events SET payload = NULL, payload_salt = NULL WHERE seq = 1`)).rejects.toThrow();
      await expect(
        store!.query(sql`UPDATE events SET payload = NULL, payload_salt = NULL, erased_at = now(), hash = 'x' WHERE seq = 1`),
      ).rejects.toThrow();
      await store!.query(sql`UPDATE events SET payload = NULL, payload_salt = NULL, erased_at = now() WHERE seq = 1`);
      // An erased event stays erased: the tombstone cannot be rewritten.
      await expect(store!.query(sql`UPDATE events SET erased_at = now() WHERE seq = 1`)).rejects.toThrow();
      const rows = await store!.query<{ seq: number; payload: string | null; payload_hash: string; erased: boolean }>(
        sql`SELECT seq, payload, payload_hash, erased_at IS NOT NULL AS erased FROM events ORDER BY seq`,
      );
      expect(rows).toEqual([
        { seq: 1, payload: null, payload_hash: 'ph', erased: true },
        { seq: 2, payload: '{"step":1}', payload_hash: 'ph', erased: false },
      ]);
    });

    it('records one store identity at creation, which no role can change, remove or add to', async () => {
      const identities = await store!.query<{ id: string }>(sql`SELECT id FROM store_identity`);
      expect(identities).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/) }]);
      await expect(store!.query(sql`UPDATE store_identity SET id = 'another-store'`)).rejects.toThrow();
      await expect(store!.query(sql`DELETE FROM store_identity`)).rejects.toThrow();
      await expect(store!.query(sql`TRUNCATE store_identity`)).rejects.toThrow();
      await expect(store!.query(sql`INSERT INTO store_identity (id) VALUES (${identities[0]!.id})`)).rejects.toThrow();
      expect(await store!.query(sql`SELECT id FROM store_identity`)).toEqual(identities);
    });
  });
}
