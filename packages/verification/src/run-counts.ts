// How many runs the store holds, by agent and status: figures that span every process writing
// to the store (a CLI run, a worker, another server), read where they are kept.
import type { Store } from '@aifactory/store';
import { queryRows } from './store-access.ts';

/** Runs of one agent in one status. */
export interface RunCount {
  agent: string;
  status: string;
  count: number;
}

/** Counts the store's runs by agent and status (one grouped scan of the runs table). */
export async function countRuns(store: Store): Promise<RunCount[]> {
  const rows = await queryRows(
    store,
    'SELECT agent, status, count(*) AS count FROM runs GROUP BY agent, status ORDER BY agent, status',
    [],
  );
  return rows.map((row) => ({ agent: row.agent as string, status: row.status as string, count: Number(row.count) }));
}
