// A LangGraph run interrupted in one store connection is resumed through another: the property the
// runtime relies on to resume a held run in a different process after an approval.
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Annotation, Command, END, START, StateGraph, interrupt } from '@langchain/langgraph';
import { openStore, sql, type Store } from '@aifactory/store';
import { StoreCheckpointSaver } from '../../src/checkpoint/index.ts';
import { createAtRestCipher } from '@aifactory/verification';

const cipher = createAtRestCipher(Buffer.alloc(32, 9));

const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!postgresUrl)
  console.warn('[execution] AIFACTORY_TEST_DATABASE_URL is not set: checkpoint resume on Postgres is skipped (PGlite still runs).');

const State = Annotation.Root({
  log: Annotation<string[]>({ reducer: (left, right) => [...left, ...right], default: () => [] }),
});

/** A two-step graph that holds for a human between planning and acting. */
function buildGraph(saver: StoreCheckpointSaver) {
  return new StateGraph(State)
    .addNode('plan', () => ({ log: ['planned'] }))
    .addNode('hold', () => {
      const answer = interrupt<{ question: string }, string>({ question: 'refund 120 EUR?' });
      return { log: [`human said ${answer}`] };
    })
    .addNode('act', () => ({ log: ['refunded'] }))
    .addEdge(START, 'plan')
    .addEdge('plan', 'hold')
    .addEdge('hold', 'act')
    .addEdge('act', END)
    .compile({ checkpointer: saver });
}

interface Engine {
  name: string;
  skip: boolean;
  /** Opens the same database again, as a second process would. */
  openPair: () => Promise<{ first: () => Promise<Store>; second: () => Promise<Store>; cleanup: () => Promise<void> }>;
}

const engines: Engine[] = [
  {
    name: 'pglite',
    skip: false,
    async openPair() {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-ckpt-'));
      return {
        first: () => openStore({ dataDir }),
        second: () => openStore({ dataDir }),
        cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    skip: !postgresUrl,
    async openPair() {
      const schema = `t_ckres_${randomUUID().slice(0, 8)}`;
      return {
        first: () => openStore({ databaseUrl: postgresUrl!, schema }),
        second: () => openStore({ databaseUrl: postgresUrl!, schema }),
        cleanup: async () => {
          const admin = await openStore({ databaseUrl: postgresUrl!, schema, migrate: false });
          await admin.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
          await admin.close();
        },
      };
    },
  },
];

for (const engine of engines) {
  describe.skipIf(engine.skip)(`checkpoints on ${engine.name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it('resumes an interrupted run through a second store connection, exactly where it stopped', async () => {
      const pair = await engine.openPair();
      cleanups.push(pair.cleanup);
      const config = { configurable: { thread_id: `run_${randomUUID()}` } };

      const firstStore = await pair.first();
      const held = await buildGraph(new StoreCheckpointSaver(firstStore, { cipher })).invoke({ log: ['start'] }, config);
      expect(held.log).toEqual(['start', 'planned']);
      expect((held as { __interrupt__?: Array<{ value: unknown }> }).__interrupt__?.[0]?.value).toEqual({ question: 'refund 120 EUR?' });
      await firstStore.close();

      const secondStore = await pair.second();
      try {
        const graph = buildGraph(new StoreCheckpointSaver(secondStore, { cipher }));
        const snapshot = await graph.getState(config);
        expect(snapshot.next).toEqual(['hold']);
        expect(snapshot.values.log).toEqual(['start', 'planned']);
        const done = await graph.invoke(new Command({ resume: 'yes' }), config);
        expect(done.log).toEqual(['start', 'planned', 'human said yes', 'refunded']);
        expect((await graph.getState(config)).next).toEqual([]);
        const history: string[] = [];
        for await (const state of graph.getStateHistory(config)) history.push(String(state.metadata?.source));
        expect(history.length).toBeGreaterThanOrEqual(4);
      } finally {
        await secondStore.close();
      }
    });

    it('keeps threads apart and forgets a deleted thread', async () => {
      const pair = await engine.openPair();
      cleanups.push(pair.cleanup);
      const store = await pair.first();
      try {
        const saver = new StoreCheckpointSaver(store, { cipher });
        const graph = buildGraph(saver);
        const kept = { configurable: { thread_id: 'kept' } };
        const deleted = { configurable: { thread_id: 'deleted' } };
        await graph.invoke({ log: ['a'] }, kept);
        await graph.invoke({ log: ['b'] }, deleted);
        await saver.deleteThread('deleted');
        expect((await graph.getState(deleted)).values).toEqual({});
        expect((await graph.getState(kept)).values.log).toEqual(['a', 'planned']);
        const left = await store.query<{ thread_id: string }>(
          sql`select distinct thread_id from checkpoint_writes union select distinct thread_id from checkpoint_blobs`,
        );
        expect(left.map((row) => row.thread_id)).toEqual(['kept']);
      } finally {
        await store.close();
      }
    });

    it('stores every value encrypted and bound to its row: no state in plain text, a moved or plain row and another key are refused', async () => {
      const pair = await engine.openPair();
      cleanups.push(pair.cleanup);
      const store = await pair.first();
      try {
        const marker = 'customer-4711-marker';
        const graph = buildGraph(new StoreCheckpointSaver(store, { cipher }));
        const config = { configurable: { thread_id: 'secretive' } };
        await graph.invoke({ log: [marker] }, config);
        const cells = await store.query<{ text: string }>(sql`
          select encode(blob, 'escape') as text from checkpoint_blobs where blob is not null
          union all select encode(value, 'escape') from checkpoint_writes where value is not null
          union all select encode(checkpoint, 'escape') || encode(metadata, 'escape') || metadata_json::text from checkpoints`);
        expect(cells.length).toBeGreaterThan(3);
        for (const cell of cells) expect(cell.text).not.toMatch(/customer-4711|planned|refund 120|"source"\s*:\s*"(input|loop)"/);
        // A list filter still matches on the keyed hash.
        const inputs = [];
        for await (const tuple of new StoreCheckpointSaver(store, { cipher }).list(config, { filter: { source: 'input' } }))
          inputs.push(tuple.metadata?.source);
        expect(inputs).toEqual(['input']);

        await expect(
          buildGraph(new StoreCheckpointSaver(store, { cipher: createAtRestCipher(Buffer.alloc(32, 3)) })).getState(config),
        ).rejects.toThrow(/does not open with at-rest key/);
        // Copy one blob's value over every other: each is bound to its own row, so none opens elsewhere.
        await store.query(
          sql`update checkpoint_blobs set blob = (select blob from checkpoint_blobs b where b.thread_id = 'secretive' and b.blob is not null order by b.channel, b.version limit 1) where thread_id = 'secretive' and blob is not null`,
        );
        await expect(graph.getState(config)).rejects.toThrow(/altered or moved/);
        await store.query(sql`update checkpoints set type = 'json' where thread_id = 'secretive'`);
        await expect(graph.getState(config)).rejects.toThrow(/stored in plain text/);
        expect(() => new StoreCheckpointSaver(store, undefined as never)).toThrow(/needs a cipher/);
      } finally {
        await store.close();
      }
    });
  });
}
