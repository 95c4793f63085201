import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { migrationsFolder, openStore, sql, type Store } from '../src/index.ts';
import { runs } from '../src/schema/index.ts';

const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!postgresUrl)
  console.warn('[store] AIFACTORY_TEST_DATABASE_URL is not set: Postgres store tests are skipped (PGlite tests still run).');

const engines: Array<{ name: string; open: () => Promise<Store>; skip: boolean }> = [
  { name: 'pglite', open: () => openStore(), skip: false },
  {
    name: 'postgres',
    open: () => openStore({ databaseUrl: postgresUrl!, schema: `t_store_${randomUUID().slice(0, 8)}` }),
    skip: !postgresUrl,
  },
];

for (const engine of engines) {
  describe.skipIf(engine.skip)(`openStore on ${engine.name}`, () => {
    const opened: Store[] = [];
    afterAll(async () => {
      for (const store of opened) {
        if (store.kind === 'postgres' && store.schemaName !== 'public')
          await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
        await store.close();
      }
    });

    it('migrates the shared schema and round-trips a run', async () => {
      const store = await engine.open();
      opened.push(store);
      const startedAt = new Date('2026-11-23T07:00:00.123Z');
      await store.db
        .insert(runs)
        .values({ id: 'run-1', agent: 'clerk', principal: 'alice', status: 'running', startedAt, metadata: { k: 1 } });
      const [row] = await store.db.select().from(runs).where(eq(runs.id, 'run-1'));
      expect(row?.startedAt.toISOString()).toBe(startedAt.toISOString());
      expect(row?.metadata).toEqual({ k: 1 });
      const tables = await store.query<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = ${store.schemaName} order by table_name`,
      );
      expect(tables.map((table) => table.table_name)).toEqual(
        expect.arrayContaining(['events', 'runs', 'seals', 'approvals', 'checkpoints', 'kn_chunks']),
      );
    });

    it('opening twice applies migrations once', async () => {
      const first = await engine.open();
      opened.push(first);
      if (first.kind === 'pglite') return; // in-memory PGlite instances do not share state
      const second = await openStore({ databaseUrl: postgresUrl!, schema: first.schemaName });
      opened.push(second);
      const applied = await second.query<{ count: number }>(
        sql.raw(`select count(*)::int as count from "${first.schemaName}".__aifactory_migrations`),
      );
      // Each migration once, not once per open.
      const journal = JSON.parse(readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
      expect(applied[0]?.count).toBe(journal.entries.length);
    });

    it('opens a migrated store without waiting for the migration lock (a worker starting while another migrates)', async () => {
      const first = await engine.open();
      opened.push(first);
      if (first.kind === 'pglite') return; // one process owns a PGlite directory: no lock
      // Another process holds the lock processes migrate under, for as long as this test runs.
      const holder = await openStore({ databaseUrl: postgresUrl!, schema: first.schemaName, maxConnections: 1 });
      opened.push(holder);
      await holder.db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${'aifactory.migrate.' + first.schemaName}))`);
        const second = await Promise.race([
          openStore({ databaseUrl: postgresUrl!, schema: first.schemaName }),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5_000)),
        ]);
        expect(second, 'openStore waited on the migration lock').toBeDefined();
        opened.push(second!);
      });
    });
  });
}

describe('openStore with a data directory', () => {
  it('keeps data across reopen', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-store-'));
    try {
      const first = await openStore({ dataDir });
      await first.db.insert(runs).values({ id: 'kept', agent: 'a', principal: 'p', status: 'completed', startedAt: new Date() });
      await first.close();
      const second = await openStore({ dataDir });
      const rows = await second.db.select().from(runs);
      expect(rows.map((row) => row.id)).toEqual(['kept']);
      await second.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('runs PGlite with 32MB of shared buffers, or what the opener asks for, or AIFACTORY_PGLITE_SHARED_BUFFERS over both; a malformed size is refused before the directory is locked', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-store-'));
    const saved = process.env.AIFACTORY_PGLITE_SHARED_BUFFERS;
    const sharedBuffers = async (pgliteSharedBuffers?: string) => {
      const store = await openStore({ dataDir, ...(pgliteSharedBuffers ? { pgliteSharedBuffers } : {}) });
      try {
        return (await store.query<{ shared_buffers: string }>(sql`SHOW shared_buffers`))[0]!.shared_buffers;
      } finally {
        await store.close();
      }
    };
    try {
      delete process.env.AIFACTORY_PGLITE_SHARED_BUFFERS;
      expect(await sharedBuffers()).toBe('32MB');
      expect(await sharedBuffers('128MB')).toBe('128MB');
      process.env.AIFACTORY_PGLITE_SHARED_BUFFERS = '64MB';
      expect(await sharedBuffers()).toBe('64MB');
      expect(await sharedBuffers('128MB')).toBe('64MB');
      for (const malformed of ['lots', '32', '64 MB', '16kB']) {
        process.env.AIFACTORY_PGLITE_SHARED_BUFFERS = malformed;
        await expect(openStore({ dataDir })).rejects.toThrow(`AIFACTORY_PGLITE_SHARED_BUFFERS is '${malformed}'`);
      }
      delete process.env.AIFACTORY_PGLITE_SHARED_BUFFERS;
      await expect(openStore({ dataDir, pgliteSharedBuffers: '8 GB' })).rejects.toThrow(`pgliteSharedBuffers is '8 GB'`);
      // Refused before the directory's lock was taken: the next open is not told the store is busy.
      expect(await sharedBuffers()).toBe('32MB');
    } finally {
      if (saved === undefined) delete process.env.AIFACTORY_PGLITE_SHARED_BUFFERS;
      else process.env.AIFACTORY_PGLITE_SHARED_BUFFERS = saved;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('names the unreachable server in its error', async () => {
    await expect(openStore({ databaseUrl: 'postgres://nobody:secret@127.0.0.1:1/none' })).rejects.toThrow(
      /Could not reach Postgres at postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none/,
    );
  });
});

describe.skipIf(!postgresUrl)('openStore on Postgres with openConnections', () => {
  // An idle connection takes the next statement, and postgres.js keeps idle connections in turn:
  // one-at-a-time statements go round every open connection, so their backends count the pool.
  async function backendsOf(store: Store): Promise<number> {
    const pids = new Set<number>();
    for (let index = 0; index < 8; index += 1) pids.add((await store.query<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`))[0]!.pid);
    return pids.size;
  }

  it('opens that many connections before its first statement (a worker starts none in its first burst of jobs), never more than maxConnections', async () => {
    const schema = `t_store_${randomUUID().slice(0, 8)}`;
    const plain = await openStore({ databaseUrl: postgresUrl!, schema });
    const warm = await openStore({ databaseUrl: postgresUrl!, schema, openConnections: 4 });
    const capped = await openStore({ databaseUrl: postgresUrl!, schema, openConnections: 4, maxConnections: 2 });
    try {
      expect(await backendsOf(plain)).toBe(1);
      expect(await backendsOf(warm)).toBe(4);
      expect(await backendsOf(capped)).toBe(2);
    } finally {
      await plain.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).catch(() => undefined);
      await Promise.all([plain.close(), warm.close(), capped.close()]);
    }
  });
});

describe.skipIf(!postgresUrl)('a Postgres connection terminated mid-statement', () => {
  // postgres.js 3.4.9 kept the terminated backend's error (57P01) and rejected the first statement
  // of the reconnected connection with it: a run that met a restart once then failed its next,
  // healthy write. patches/postgres@3.4.9.patch clears it when the socket closes.
  it('fails that statement only: the next one, on the reconnected connection, succeeds', async () => {
    const store = await openStore({ databaseUrl: postgresUrl!, schema: `t_store_${randomUUID().slice(0, 8)}`, maxConnections: 1 });
    const admin = await openStore({ databaseUrl: postgresUrl!, maxConnections: 1 });
    try {
      const pid = (await store.query<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`))[0]!.pid;
      const sleeping = store.query(sql`SELECT pg_sleep(30)`).then(
        () => undefined,
        (error: unknown) => error,
      );
      await expect
        .poll(
          async () => (await admin.query(sql`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}::int AND query LIKE '%pg_sleep%'`)).length,
        )
        .toBe(1);
      await admin.query(sql`SELECT pg_terminate_backend(${pid}::int)`);
      // The statement fails (the server's 57P01 closes the socket before the statement ends).
      expect(await sleeping).toBeInstanceOf(Error);
      const [after] = await store.query<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`);
      expect(after!.pid).not.toBe(pid);
    } finally {
      await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`)).catch(() => undefined);
      await store.close();
      await admin.close();
    }
  });
});

// libpq's form for a local server's Unix-domain socket: the URL's host query parameter names the
// socket's directory. Where the test server has no socket there (another host, a container), skip.
const socketDirectory = '/var/run/postgresql';
const socketUrl = (() => {
  if (!postgresUrl || !existsSync(socketDirectory)) return undefined;
  const url = new URL(postgresUrl);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') return undefined;
  if (!existsSync(path.join(socketDirectory, `.s.PGSQL.${url.port || 5432}`))) return undefined;
  url.searchParams.set('host', socketDirectory);
  return url.toString();
})();

describe.skipIf(!socketUrl)('openStore through a Unix-domain socket', () => {
  it('connects through the socket named by the URL host parameter (no TCP: the server sees no client address) and migrates', async () => {
    const store = await openStore({ databaseUrl: socketUrl!, schema: `t_store_${randomUUID().slice(0, 8)}`, maxConnections: 1 });
    try {
      const [peer] = await store.query<{ address: string | null }>(sql`SELECT inet_client_addr()::text AS address`);
      expect(peer!.address).toBeNull();
      await store.db.insert(runs).values({ id: 'run-socket', agent: 'a', principal: 'p', status: 'running', startedAt: new Date() });
      expect((await store.db.select().from(runs)).map((row) => row.id)).toEqual(['run-socket']);
    } finally {
      await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
      await store.close();
    }
  });
});
