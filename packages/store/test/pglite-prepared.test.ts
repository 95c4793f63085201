import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import { runPrepared } from '../src/index.ts';

describe('runPrepared on PGlite', () => {
  let client: PGlite;
  beforeAll(async () => {
    client = await PGlite.create();
    await client.exec('CREATE TABLE items (id int PRIMARY KEY, label text)');
  });
  afterAll(() => client.close());

  it('runs one statement many times with new parameters, counting the rows it changed and returning its rows', async () => {
    const insert = 'INSERT INTO items (id, label) VALUES ($1::int, $2::text), ($3::int, $4::text) RETURNING label';
    const first = await runPrepared(client, insert, [1, 'one', 2, null]);
    const second = await runPrepared(client, insert, [3, 'three', 4, 'four']);
    expect(first).toEqual({ affectedRows: 2, rows: [['one'], [null]] });
    expect(second.rows).toEqual([['three'], ['four']]);
    expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows[0]!.n).toBe(4);
  });

  it('rejects with the database error (its SQLSTATE and constraint) and keeps working after it', async () => {
    const insert = 'INSERT INTO items (id, label) VALUES ($1::int, $2::text)';
    await runPrepared(client, insert, [10, 'ten']);
    await expect(runPrepared(client, insert, [10, 'again'])).rejects.toMatchObject({ code: '23505', constraint: 'items_pkey' });
    expect((await runPrepared(client, insert, [11, 'eleven'])).affectedRows).toBe(1);
  });

  it('rejects a statement that does not parse, and does not remember it', async () => {
    await expect(runPrepared(client, 'INSERT INTO nowhere VALUES ($1::int)', [1])).rejects.toMatchObject({ code: '42P01' });
    await client.exec('CREATE TABLE nowhere (id int)');
    expect((await runPrepared(client, 'INSERT INTO nowhere VALUES ($1::int)', [1])).affectedRows).toBe(1);
  });

  it("never runs inside another caller's open transaction: a rollback there leaves its row in place", async () => {
    let inside!: () => void;
    const started = new Promise<void>((resolve) => (inside = resolve));
    const transaction = client
      .transaction(async (tx) => {
        await tx.query("INSERT INTO items (id, label) VALUES (20, 'rolled back')");
        inside();
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('abort');
      })
      .catch((error: Error) => error.message);
    await started;
    const outside = runPrepared(client, 'INSERT INTO items (id, label) VALUES ($1::int, $2::text)', [21, 'kept']);
    expect(await transaction).toBe('abort');
    expect((await outside).affectedRows).toBe(1);
    const labels = (await client.query<{ label: string }>('SELECT label FROM items WHERE id IN (20, 21) ORDER BY id')).rows;
    expect(labels).toEqual([{ label: 'kept' }]);
  });

  it('refuses once its client is closed, as query() does, instead of reaching a backend that is gone', async () => {
    const closing = await PGlite.create();
    expect((await runPrepared(closing, 'SELECT $1::int + 1', [1])).rows).toEqual([['2']]);
    await closing.close();
    await expect(runPrepared(closing, 'SELECT $1::int + 1', [1])).rejects.toThrow('PGlite is closed');
  });

  it('runs between the statements of queries issued at the same moment, each getting its own result', async () => {
    const results = await Promise.all([
      client.query<{ n: number }>('SELECT $1::int AS n', [1]),
      runPrepared(client, 'SELECT $1::int * 10', [2]),
      client.query<{ n: number }>('SELECT $1::int AS n', [3]),
      runPrepared(client, 'SELECT $1::int * 10', [4]),
    ]);
    expect(results).toEqual([
      expect.objectContaining({ rows: [{ n: 1 }] }),
      expect.objectContaining({ rows: [['20']] }),
      expect.objectContaining({ rows: [{ n: 3 }] }),
      expect.objectContaining({ rows: [['40']] }),
    ]);
  });

  it('sends and returns text as it is: multi-byte characters, empty strings, nulls, and values far larger than one message buffer', async () => {
    await client.exec('CREATE TABLE texts (id int PRIMARY KEY, body text, note text)');
    const large = 'é€😀x'.repeat(120_000); // 1.2 MB of UTF-8
    const cases: Array<[number, string | null, string | null]> = [
      [1, 'naïve café — 日本語 😀', ''],
      [2, null, 'null body'],
      [3, large, null],
      [4, '', 'after the large one'],
    ];
    for (const [id, body, note] of cases)
      await runPrepared(client, 'INSERT INTO texts (id, body, note) VALUES ($1::int, $2::text, $3::text)', [id, body, note]);
    const stored = (
      await client.query<{ id: number; body: string | null; note: string | null }>('SELECT id, body, note FROM texts ORDER BY id')
    ).rows;
    expect(stored.map((row) => [row.id, row.body, row.note])).toEqual(cases);
    const back = await runPrepared(client, 'SELECT body, note, length(body) FROM texts WHERE id = $1::int', [3]);
    expect(back.rows).toEqual([[large, null, String([...large].length)]]);
  });

  it('reads a reply the backend writes in many pieces: every row, in order', async () => {
    const rows = (await runPrepared(client, "SELECT n, repeat('y', $2::int) FROM generate_series(1, $1::int) AS n", [5000, 300])).rows;
    expect(rows).toHaveLength(5000);
    expect(rows[0]).toEqual(['1', 'y'.repeat(300)]);
    expect(rows.at(-1)).toEqual(['5000', 'y'.repeat(300)]);
    expect(rows.every((row, index) => row[0] === String(index + 1))).toBe(true);
  });
});
