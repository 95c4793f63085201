// The two engines every store-backed approvals test runs on, each test file in a schema of its own.
import { randomUUID } from 'node:crypto';
import { openStore, sql, type Store } from '@aifactory/store';

export const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!postgresUrl)
  console.warn(
    '[execution] AIFACTORY_TEST_DATABASE_URL is not set: approvals and notifications tests on Postgres are skipped (PGlite still runs).',
  );

/** An engine: how to open a fresh store, and a second connection to the same one. */
export interface TestEngine {
  name: 'pglite' | 'postgres';
  skip: boolean;
  /** A fresh, empty store. */
  open(): Promise<Store>;
  /** Another connection to the same database (Postgres), or the same store (PGlite has one connection). */
  reopen(store: Store): Promise<Store>;
  /** Closes and, on Postgres, drops the schema. */
  dispose(store: Store): Promise<void>;
}

export const engines: TestEngine[] = [
  {
    name: 'pglite',
    skip: false,
    open: () => openStore(),
    reopen: async (store) => store,
    dispose: (store) => store.close(),
  },
  {
    name: 'postgres',
    skip: !postgresUrl,
    open: () => openStore({ databaseUrl: postgresUrl!, schema: `t_exec_${randomUUID().slice(0, 8)}` }),
    reopen: (store) => openStore({ databaseUrl: postgresUrl!, schema: store.schemaName }),
    async dispose(store) {
      await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
      await store.close();
    },
  },
];

/** One recorded event, as the verification plane's recorder would receive it. */
export interface RecordedEvent {
  runId: string;
  type: string;
  actor: string;
  payload: Record<string, unknown>;
}

/** A recorder that keeps events in memory; `failOn` makes it throw for one event type. */
export function memoryRecorder() {
  const events: RecordedEvent[] = [];
  const state = { failOn: undefined as string | undefined };
  return {
    events,
    state,
    record: async (runId: string, event: { type: string; actor: string; payload: unknown }) => {
      if (state.failOn === event.type) throw new Error('the trace store is unreachable');
      events.push({ runId, type: event.type, actor: event.actor, payload: event.payload as Record<string, unknown> });
    },
    of: (type: string) => events.filter((event) => event.type === type),
  };
}
