// On Postgres the store's drizzle statements with parameters go as named prepared statements: one
// round trip after the first on a connection (unnamed, postgres.js describes each one first, a
// second round trip during which the connection waits), and a statement Postgres plans once. So
// that a long-lived process does not keep a statement per IN-list length, one with many parameters
// stays unnamed.
import { randomUUID } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openStore, sql } from '../src/index.ts';
import { runs } from '../src/schema/index.ts';

const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

describe.skipIf(!postgresUrl)('statements on Postgres', () => {
  it('are prepared once per connection and reused; one with many parameters is not kept', async () => {
    // One connection, so the statements prepared are that connection's.
    const store = await openStore({ databaseUrl: postgresUrl!, schema: `t_named_${randomUUID().slice(0, 8)}`, maxConnections: 1 });
    try {
      const prepared = async () =>
        (await store.query<{ statement: string }>(sql`SELECT statement FROM pg_prepared_statements`)).map((row) => row.statement);
      for (let round = 0; round < 3; round += 1) {
        expect(await store.query(sql`SELECT id FROM runs WHERE id = ${`run_${round}`}`)).toEqual([]);
        expect(
          await store.db
            .select()
            .from(runs)
            .where(eq(runs.agent, `agent-${round}`)),
        ).toEqual([]);
      }
      const many = Array.from({ length: 40 }, (_, index) => `run_${index}`);
      expect(await store.db.select().from(runs).where(inArray(runs.id, many))).toEqual([]);

      const statements = await prepared();
      // Each statement once, however often it ran.
      expect(statements.filter((text) => text.includes('WHERE id = $1'))).toHaveLength(1);
      expect(statements.filter((text) => text.includes('"runs"."agent" = $1'))).toHaveLength(1);
      // The forty-parameter IN list went unnamed: nothing kept for it.
      expect(statements.filter((text) => text.includes('$40'))).toEqual([]);
    } finally {
      await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`)).catch(() => undefined);
      await store.close();
    }
  });
});
