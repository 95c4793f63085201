// Runs LangGraph's own conformance suite (@langchain/langgraph-checkpoint-validation) against the
// store checkpointer, on PGlite and on Postgres.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, test } from 'vitest';
import { randomUUID } from 'node:crypto';
import { openStore, sql, type Store } from '@aifactory/store';
import { StoreCheckpointSaver } from '../../src/checkpoint/index.ts';
import { createAtRestCipher } from '@aifactory/verification';

const cipher = createAtRestCipher(Buffer.alloc(32, 9));

// The suite calls describe/it/expect as globals (it was written for vitest with globals on);
// this repository imports them, so hand the suite the same functions before loading it.
Object.assign(globalThis, { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, test });
const { validate, deltaChannelHistoryTests } = await import('@langchain/langgraph-checkpoint-validation');

const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!postgresUrl)
  console.warn('[execution] AIFACTORY_TEST_DATABASE_URL is not set: checkpoint validation on Postgres is skipped (PGlite still runs).');

const engines = [
  { name: 'pglite', skip: false, open: () => openStore() },
  {
    name: 'postgres',
    skip: !postgresUrl,
    open: () => openStore({ databaseUrl: postgresUrl!, schema: `t_ckpt_${randomUUID().slice(0, 8)}` }),
  },
];

for (const engine of engines) {
  describe.skipIf(engine.skip)(`StoreCheckpointSaver on ${engine.name}`, () => {
    let store: Store;
    // One store per engine; every checkpointer the suite creates starts from empty tables, which
    // is the isolation the suite asks for.
    const initializer = {
      checkpointerName: `StoreCheckpointSaver (${engine.name})`,
      beforeAllTimeout: 60_000,
      async beforeAll() {
        store = await engine.open();
      },
      async afterAll() {
        if (!store) return;
        if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
        await store.close();
      },
      async createCheckpointer() {
        await store.query(sql`TRUNCATE checkpoints, checkpoint_blobs, checkpoint_writes`);
        return new StoreCheckpointSaver(store, { cipher });
      },
    };
    validate(initializer);
    deltaChannelHistoryTests(initializer);
  });
}
