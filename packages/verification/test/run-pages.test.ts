// Listing runs a page at a time, newest first: every run is seen once however many start while
// an app walks the pages, since/until bound the walk, and the store answers from an index.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Store } from '@aifactory/store';
import { decodeRunCursor, encodeRunCursor, listRunsPage } from '../src/index.ts';
import { engines, warnIfNoPostgres } from './engines.ts';

warnIfNoPostgres('run pages');

const base = Date.parse('2026-03-01T00:00:00.000Z');
/** Inserts runs named `${prefix}-${i}`; every three share a start time, so ids break ties. */
async function insertRuns(store: Store, prefix: string, count: number, startMs: number): Promise<void> {
  await store.query(
    sql.raw(`INSERT INTO runs (id, agent, principal, status, started_at)
             SELECT '${prefix}-' || lpad(i::text, 4, '0'), 'pager', 'alice', 'completed', to_timestamp(${startMs / 1000} + (i / 3) * 60)
             FROM generate_series(0, ${count - 1}) AS i`),
  );
}

for (const engine of engines('t_pages')) {
  describe.skipIf(engine.skip)(`run pages on ${engine.name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await engine.open();
      await insertRuns(store, 'old', 30, base);
    });
    afterAll(async () => {
      if (store) await engine.dispose(store);
    });

    it('walks newest first, each run once, while newer runs start between pages', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await listRunsPage(store, { agent: 'pager', limit: 7, ...(cursor ? { after: decodeRunCursor(cursor) } : {}) });
        seen.push(...page.runs.map((run) => run.id));
        cursor = page.nextCursor;
        pages += 1;
        // Runs started meanwhile are newer than every listed run: they never shift the pages.
        if (pages === 1) await insertRuns(store, 'new', 5, base + 3_600_000);
      } while (cursor);
      const expected = Array.from({ length: 30 }, (_, i) => `old-${String(29 - i).padStart(4, '0')}`);
      // Within a start time the ids break the tie, descending too.
      expect(seen).toEqual(expected);
      expect(pages).toBe(5);
      const first = await listRunsPage(store, { agent: 'pager', limit: 3 });
      expect(first.runs.map((run) => run.id)).toEqual(['new-0004', 'new-0003', 'new-0002']);
    });

    it('bounds the walk with since and until, and says when a page is the last', async () => {
      const since = new Date(base + 2 * 60_000);
      const until = new Date(base + 5 * 60_000);
      const page = await listRunsPage(store, { agent: 'pager', since, until, limit: 100 });
      // Minutes 2, 3 and 4: runs 6..14.
      expect(page.runs.map((run) => run.id)).toEqual([
        'old-0014',
        'old-0013',
        'old-0012',
        'old-0011',
        'old-0010',
        'old-0009',
        'old-0008',
        'old-0007',
        'old-0006',
      ]);
      expect(page.nextCursor).toBeNull();
      const exact = await listRunsPage(store, { agent: 'pager', since, until, limit: 9 });
      expect(exact.nextCursor).toBeNull();
    });

    it('refuses a cursor it did not give out', () => {
      expect(() => decodeRunCursor('not-a-cursor')).toThrow(/cursor is not one this server gave out/);
      expect(() => decodeRunCursor(Buffer.from('{"t":"yesterday","id":"x"}').toString('base64url'))).toThrow(/cursor/);
      const position = { startedAt: new Date(base), id: 'old-0001' };
      expect(decodeRunCursor(encodeRunCursor(position))).toEqual(position);
    });

    it('answers the newest-first page from the (started_at, id) index, not a scan and sort', async () => {
      await insertRuns(store, 'bulk', 3000, base - 86_400_000 * 30);
      await store.query(sql.raw('ANALYZE runs'));
      const plan = await store.query<Record<string, string>>(
        sql.raw(`EXPLAIN SELECT r.id FROM runs r WHERE (r.started_at, r.id) < ('${new Date(base).toISOString()}'::timestamptz, 'zzz')
                 ORDER BY r.started_at DESC, r.id DESC LIMIT 51`),
      );
      const text = plan.map((row) => Object.values(row).join(' ')).join('\n');
      expect(text).toMatch(/runs_started_id_idx/);
      expect(text).not.toMatch(/Sort/);
    });
  });
}
