// Two approvers in two processes voting on one held action at the same moment, on Postgres where
// both processes open the store: the votes are counted once each, exactly one of them decides and
// resumes the run, the run never fails, and the approved tool runs once (counted at the tool).
import { randomBytes } from 'node:crypto';
import { openStore } from '@aifactory/store';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTallyWorkspace, factory, type TallyWorkspace } from '../fixtures/tally-workspace.ts';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

describe.skipIf(!databaseUrl)('two approvers in two processes', () => {
  let workspace: TallyWorkspace;
  const env = { DATABASE_URL: databaseUrl ?? '', AIFACTORY_DB_SCHEMA: `t_approvers_${randomBytes(4).toString('hex')}` };
  beforeAll(() => {
    workspace = createTallyWorkspace({ approvers: 2 });
  });
  afterAll(async () => {
    workspace?.remove();
    // The processes made the schema; nothing else drops it.
    const store = await openStore({ databaseUrl: databaseUrl!, schema: env.AIFACTORY_DB_SCHEMA, maxConnections: 1 });
    await store.query(sql.raw(`DROP SCHEMA IF EXISTS ${env.AIFACTORY_DB_SCHEMA} CASCADE`)).catch(() => undefined);
    await store.close();
  });

  it('vote at the same moment: one resume, a completed run, the tool once', { timeout: 900_000 }, async () => {
    const started = await factory(workspace, ['run', 'tally-clerk', '-i', 'entry', '--as', 'alice@acme.example', '--json'], { env });
    expect(started.code, started.stderr).toBe(0);
    const held = JSON.parse(started.stdout) as { runId: string; status: string; events: Array<{ type: string; approvalId?: string }> };
    expect(held.status).toBe('held');
    const approvalId = held.events.find((event) => event.type === 'run.held')!.approvalId!;

    const votes = await Promise.all(
      ['bob@acme.example', 'dave@acme.example'].map((approver) =>
        factory(workspace, ['approvals', 'approve', approvalId, '--as', approver, '--role', 'ops-lead', '--json'], { env }),
      ),
    );
    for (const vote of votes) expect(vote.code, vote.stdout + vote.stderr).toBe(0);
    // Each process prints its vote's JSON first; the deciding one then the resumed run's.
    const results = votes.map((vote) => JSON.parse(vote.stdout.slice(0, vote.stdout.indexOf('\n}\n') + 2)) as { result: string });
    expect(results.map((result) => result.result).sort()).toEqual(['approved', 'counted']);
    const decider = votes[results.findIndex((result) => result.result === 'approved')]!;
    expect(decider.stdout).toContain('"status": "completed"');

    const runs = JSON.parse((await factory(workspace, ['runs', 'list', '--json'], { env })).stdout) as {
      runs: Array<{ id: string; status: string }>;
    };
    expect(runs.runs).toEqual([expect.objectContaining({ id: held.runId, status: 'completed' })]);
    expect(workspace.calls().filter((call) => call.tool === 'write')).toHaveLength(1);
    const verified = await factory(workspace, ['runs', 'verify', held.runId], { env });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
