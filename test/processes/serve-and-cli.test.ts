// `factory serve` owning the embedded store while a user works in another terminal, all as real
// processes: CLI commands (tokens, runs, approvals, a run) go through the server by its local
// credential, two approvers vote on one approval at once, a command the server cannot run
// refuses before writing anything and names the server. After the server stops, everything
// reported done is in the store, the chain verifies, and the approved tool ran exactly once
// (counted by the tool server itself). Then a SIGKILLed server leaves nothing in the way.
import { statSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTallyWorkspace, factory, startServe, type ServeProcess, type TallyWorkspace } from '../fixtures/tally-workspace.ts';

interface HeldRun {
  runId: string;
  status: string;
  events: Array<{ type: string; approvalId?: string }>;
}

const json = <T>(text: string): T => JSON.parse(text) as T;

describe('factory serve with the CLI beside it', () => {
  let workspace: TallyWorkspace;
  let serve: ServeProcess | undefined;
  beforeAll(() => {
    workspace = createTallyWorkspace({ keys: ['k1', 'k2'] });
  });
  afterAll(async () => {
    await serve?.stop('SIGKILL');
    workspace?.remove();
  });

  it('keeps every command working through the server and loses nothing when it stops', { timeout: 1_500_000 }, async () => {
    serve = await startServe(workspace);
    const credentialFile = path.join(workspace.home, 'server.json');
    expect(statSync(credentialFile).mode & 0o777).toBe(0o600);
    const credential = json<{ url: string; pid: number; token: string }>(readFileSync(credentialFile, 'utf8'));
    expect(credential).toMatchObject({ url: serve.url, pid: serve.pid });

    // Concurrently: a token, two governed runs (each held at its write), a listing.
    const [token, run1, run2, listed] = await Promise.all([
      factory(workspace, ['tokens', 'create', '--principal', 'carol@acme.example', '--role', 'operator,approver', '--json']),
      factory(workspace, ['run', 'tally-clerk', '-i', 'k1', '--as', 'alice@acme.example', '--json']),
      factory(workspace, ['run', 'tally-clerk', '-i', 'k2', '--as', 'alice@acme.example', '--json']),
      factory(workspace, ['runs', 'list', '--json']),
    ]);
    for (const result of [token, run1, run2, listed]) expect(result.code, result.stderr).toBe(0);
    const created = json<{ id: string; token: string }>(token.stdout);
    const held1 = json<HeldRun>(run1.stdout);
    const held2 = json<HeldRun>(run2.stdout);
    expect([held1.status, held2.status]).toEqual(['held', 'held']);
    const approval1 = held1.events.find((event) => event.type === 'run.held')!.approvalId!;
    const approval2 = held2.events.find((event) => event.type === 'run.held')!.approvalId!;

    // The new token works against the running server at once (it was created by the server).
    const me = await fetch(`${serve.url}/v1/me`, { headers: { authorization: `Bearer ${created.token}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ principal: 'carol@acme.example' });
    // Over the network, a request acts as its token's principal: naming another is refused.
    const spoofed = await fetch(`${serve.url}/v1/me`, {
      headers: { authorization: `Bearer ${created.token}`, 'x-aifactory-as': 'root@acme.example' },
    });
    expect(spoofed.status).toBe(403);

    const pending = await factory(workspace, ['approvals', 'list', '--json']);
    expect(
      json<{ approvals: Array<{ id: string }> }>(pending.stdout)
        .approvals.map((approval) => approval.id)
        .sort(),
    ).toEqual([approval1, approval2].sort());

    // Two approvers approve the same held write at the same moment, and k2's write is rejected.
    const [bob, dave, rejected] = await Promise.all([
      factory(workspace, ['approvals', 'approve', approval1, '--as', 'bob@acme.example', '--role', 'ops-lead', '--json']),
      factory(workspace, ['approvals', 'approve', approval1, '--as', 'dave@acme.example', '--role', 'ops-lead', '--json']),
      factory(workspace, [
        'approvals',
        'reject',
        approval2,
        '--as',
        'bob@acme.example',
        '--role',
        'ops-lead',
        '--comment',
        'not today',
        '--json',
      ]),
    ]);
    expect(rejected.code, rejected.stderr).toBe(0);
    const votes = [bob, dave];
    const decided = votes.filter((vote) => vote.code === 0);
    expect(decided, votes.map((vote) => vote.stdout + vote.stderr).join('\n')).toHaveLength(1);
    expect(json<{ result: string; resumed: boolean }>(decided[0]!.stdout)).toMatchObject({ result: 'approved', resumed: true });
    const late = votes.find((vote) => vote.code !== 0)!;
    expect(late.code).toBe(2);
    expect(late.stdout + late.stderr).toMatch(/is already (approved|consumed)|was already used/);

    // A command the server cannot run refuses before writing anything, naming the server.
    const erase = await factory(workspace, ['runs', 'erase', held1.runId]);
    expect(erase.code).toBe(3);
    expect(erase.stderr).toContain(`factory serve (pid ${serve.pid}) at ${serve.url} owns the embedded store`);
    expect(erase.stderr).toMatch(/Stop the server/);
    // Through a remote server (--server + AIFACTORY_TOKEN) --as is refused, never trusted.
    const remoteVote = await factory(workspace, ['--server', serve.url, 'approvals', 'approve', approval2, '--as', 'root@acme.example'], {
      env: { AIFACTORY_TOKEN: created.token },
    });
    expect(remoteVote.code).toBe(2);
    expect(remoteVote.stderr).toMatch(/--as is not trusted over the network/);
    const remoteList = await factory(workspace, ['runs', 'list', '--json'], {
      env: { AIFACTORY_URL: serve.url, AIFACTORY_TOKEN: created.token },
    });
    expect(remoteList.code, remoteList.stderr).toBe(0);

    // Both runs reach their end in the server; then it stops.
    const deadline = Date.now() + 600_000;
    for (;;) {
      const runs = json<{ runs: Array<{ id: string; status: string }> }>(
        (await factory(workspace, ['runs', 'list', '--json'])).stdout,
      ).runs;
      if (runs.every((run) => run.status === 'completed' || run.status === 'failed')) break;
      if (Date.now() > deadline) throw new Error(`runs did not finish: ${JSON.stringify(runs)}`);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    const stopped = await serve.stop('SIGTERM');
    serve = undefined;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(existsSync(credentialFile)).toBe(false);

    // Everything reported done is in the store, read directly now.
    const tokens = json<{ tokens: Array<{ id: string; principal: string }> }>(
      (await factory(workspace, ['tokens', 'list', '--json'])).stdout,
    ).tokens;
    expect(tokens.map((row) => row.id)).toContain(created.id);
    const runs = json<{ runs: Array<{ id: string; status: string; sealed: boolean }> }>(
      (await factory(workspace, ['runs', 'list', '--json'])).stdout,
    ).runs;
    expect(runs.map((run) => [run.id, run.status, run.sealed]).sort()).toEqual(
      [
        [held1.runId, 'completed', true],
        [held2.runId, 'completed', true],
      ].sort(),
    );
    const verified = await factory(workspace, ['runs', 'verify', '--all']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const writes = workspace.calls().filter((call) => call.tool === 'write');
    expect(writes.map((call) => call.key)).toEqual(['k1']);

    // A server killed outright leaves a dead lock and a dead credential: both are passed over.
    serve = await startServe(workspace);
    await serve.stop('SIGKILL');
    serve = undefined;
    expect(existsSync(credentialFile)).toBe(true);
    const afterKill = await factory(workspace, ['runs', 'verify', '--all']);
    expect(afterKill.code, afterKill.stdout + afterKill.stderr).toBe(0);
  });
});
