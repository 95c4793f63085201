// The CLI commands that used to need the store itself — `runs show`, `runs verify` (one run and
// --all), `runs resume`, `tokens rotate`, `notifications list|read` — go through the running
// `factory serve` that owns the embedded store, as real processes: they answer instead of failing
// with STORE_BUSY, and what they change is changed in the server (a rotated token is refused by it
// at once).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTallyWorkspace, factory, startServe, type ServeProcess, type TallyWorkspace } from '../fixtures/tally-workspace.ts';

const json = <T>(text: string): T => JSON.parse(text) as T;

describe('the CLI through factory serve', () => {
  let workspace: TallyWorkspace;
  let serve: ServeProcess | undefined;
  beforeAll(() => {
    workspace = createTallyWorkspace({ keys: ['k1'] });
  });
  afterAll(async () => {
    await serve?.stop('SIGKILL');
    workspace?.remove();
  });

  it(
    'runs show, verify, resume, tokens rotate and notifications work through the server that owns the store',
    { timeout: 1_800_000 },
    async () => {
      serve = await startServe(workspace);
      const started = await factory(workspace, ['run', 'tally-clerk', '-i', 'k1', '--as', 'alice@acme.example', '--json']);
      expect(started.code, started.stderr).toBe(0);
      const held = json<{ runId: string; status: string; events: Array<{ type: string; approvalId?: string }> }>(started.stdout);
      expect(held.status).toBe('held');
      const approvalId = held.events.find((event) => event.type === 'run.held')!.approvalId!;

      // Commands that do not depend on each other run at once, as a user's terminals would: the
      // server answers each, and the run stays held.
      const [shown, text, early] = await Promise.all([
        factory(workspace, ['runs', 'show', held.runId, '--json']),
        factory(workspace, ['runs', 'show', held.runId]),
        factory(workspace, ['runs', 'resume', held.runId]),
      ]);
      expect(shown.code, shown.stderr).toBe(0);
      const show = json<{ run: { id: string; status: string }; events: Array<{ type: string }> }>(shown.stdout);
      expect(show.run).toMatchObject({ id: held.runId, status: 'held' });
      expect(show.events.map((event) => event.type)).toContain('run.held');
      expect(text.stdout).toContain(`(through ${serve.url})`);
      expect(text.stdout).toContain('run.held');

      // Nothing decided yet: the server says so (its own message), not the store lock.
      expect(early.code).toBe(2);
      expect(early.stderr).toContain(`Run '${held.runId}' has no decided approval waiting to be applied`);
      expect(early.stderr).not.toContain('STORE_BUSY');

      const approved = await factory(workspace, [
        'approvals',
        'approve',
        approvalId,
        '--as',
        'bob@acme.example',
        '--role',
        'ops-lead',
        '--json',
      ]);
      expect(approved.code, approved.stderr).toBe(0);
      await waitForStatus(workspace, held.runId, 'completed');
      const [again, verified, all, pinned, tokens, notifications] = await Promise.all([
        // Applied once: resuming again is refused by the server.
        factory(workspace, ['runs', 'resume', held.runId, '--approval', approvalId]),
        factory(workspace, ['runs', 'verify', held.runId, '--json']),
        factory(workspace, ['runs', 'verify', '--all']),
        factory(workspace, ['runs', 'verify', '--all', '--key', 'nowhere.pem']),
        (async () => {
          const created = json<{ id: string; token: string }>(
            (await factory(workspace, ['tokens', 'create', '--principal', 'erin@acme.example', '--role', 'auditor', '--json'])).stdout,
          );
          return { created, rotated: await factory(workspace, ['tokens', 'rotate', created.id, '--json']) };
        })(),
        (async () => {
          const [listed, everything] = await Promise.all([
            factory(workspace, ['notifications', 'list', '--json']),
            factory(workspace, ['notifications', 'list', '--all']),
          ]);
          return { listed, everything, marked: await factory(workspace, ['notifications', 'read', '--all', '--json']) };
        })(),
      ]);
      expect(again.code).toBe(2);

      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      expect(json<{ ok: boolean; runId: string }>(verified.stdout)).toMatchObject({ ok: true });
      expect(all.code, all.stdout + all.stderr).toBe(0);
      expect(all.stdout).toContain(serve.url);
      expect(pinned.code).toBe(2);

      const { created, rotated } = tokens;
      expect(rotated.code, rotated.stderr).toBe(0);
      const replacement = json<{ created: { token: string; principal: string }; previous: { id: string; revokedAt: string | null } }>(
        rotated.stdout,
      );
      expect(replacement.created.principal).toBe('erin@acme.example');
      expect(replacement.previous.revokedAt).not.toBeNull();
      expect((await fetch(`${serve.url}/v1/me`, { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(401);
      expect((await fetch(`${serve.url}/v1/me`, { headers: { authorization: `Bearer ${replacement.created.token}` } })).status).toBe(200);

      const { listed, everything, marked } = notifications;
      expect(listed.code, listed.stderr).toBe(0);
      expect(json<{ notifications: unknown[] }>(listed.stdout).notifications).toEqual([]);
      // Delivery status needs the store: through the server the CLI says so instead of guessing.
      expect(everything.code).toBe(2);
      expect(everything.stderr).toContain('--all cannot be applied through');
      expect(marked.code, marked.stderr).toBe(0);
      expect(json<{ marked: number[] }>(marked.stdout).marked).toEqual([]);

      expect(workspace.calls().filter((call) => call.tool === 'write')).toHaveLength(1);
      const stopped = await serve.stop('SIGTERM');
      expect(stopped.code).toBe(0);
      serve = undefined;
    },
  );
});

/** Polls `runs list` (through the server) until the run reads `status`. */
async function waitForStatus(workspace: TallyWorkspace, runId: string, status: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const listed = await factory(workspace, ['runs', 'list', '--json']);
    const runs = JSON.parse(listed.stdout) as { runs: Array<{ id: string; status: string }> };
    if (runs.runs.some((run) => run.id === runId && run.status === status)) return;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not become ${status}: ${listed.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
