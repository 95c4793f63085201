// `factory runs replay | explain | search` and `factory policy impact`, in-process against a
// real embedded store holding a run of the file-clerk agent (scripted model, real MCP
// filesystem server) with an approval.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { openStore, type Store } from '@aifactory/store';
import { createWorkspaceRuntime, type WorkspaceRuntime } from '@aifactory/workspace';
import { registerRunsForensicsCommands } from '../src/commands/runs-forensics.ts';
import { registerPolicyImpactCommand } from '../src/commands/policy-impact.ts';
import { prepareDemoWorkspace, type DemoWorkspace } from '../../../examples/demo/demo-workspace.ts';
import { runProgram } from './run-program.ts';

describe('factory runs replay / explain / search and policy impact', () => {
  let demo: DemoWorkspace;
  let store: Store;
  let workspace: WorkspaceRuntime;
  let runId: string;
  const previousHome = process.env.AIFACTORY_HOME;

  beforeAll(async () => {
    demo = prepareDemoWorkspace();
    process.env.AIFACTORY_HOME = demo.dataDir;
    store = await openStore();
    workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
    const started = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042 for finance and archive the original.', {
      principal: { id: 'alice@acme.example', roles: ['clerk'] },
    });
    if (started.status !== 'held') throw new Error('expected a held run');
    await workspace.approvals.vote(started.held.approvalId, { approver: { id: 'bob@acme.example', roles: ['ops-lead'] }, vote: 'approve' });
    await workspace.runtime.resume(started.runId, { approvalId: started.held.approvalId });
    runId = started.runId;
  }, 60_000);
  afterAll(async () => {
    await workspace?.close();
    await store?.close();
    rmSync(demo.root, { recursive: true, force: true });
    if (previousHome === undefined) delete process.env.AIFACTORY_HOME;
    else process.env.AIFACTORY_HOME = previousHome;
  });
  afterEach(() => {
    process.exitCode = 0;
    vi.restoreAllMocks();
  });

  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    const shared = { openStore: async () => ({ ...store, close: async () => {} }) };
    registerRunsForensicsCommands(program.command('runs'), { ...shared, agentsDir: demo.agentsDir });
    registerPolicyImpactCommand(program.command('policy'), shared);
    return runProgram(program, args);
  }

  it('replays a run identical (exit 0) and records the replay; a perturbed prompt diverges at step 1 (exit 1)', async () => {
    const identical = await factory('runs', 'replay', runId);
    expect(identical.exitCode).toBe(0);
    expect(identical.stdout).toMatch(/identical.*10 governed steps/);
    expect(identical.stdout).toMatch(/recorded as run replay_/);
    const agentFile = path.join(demo.agentsDir, 'file-clerk.yaml');
    const original = readFileSync(agentFile, 'utf8');
    writeFileSync(agentFile, original.replace('Never delete anything.', 'Delete freely.'));
    try {
      const diverged = await factory('runs', 'replay', runId, '--json', '--no-record');
      expect(diverged.exitCode).toBe(1);
      const report = JSON.parse(diverged.stdout);
      expect(report.outcome).toBe('diverged');
      expect(report.divergence.step).toBe(1);
      expect(report.replayRunId).toBeNull();
    } finally {
      writeFileSync(agentFile, original);
    }
  });

  it('what-if with --policy lists changed decisions and where the path changes', async () => {
    const candidate = path.join(demo.root, 'deny-reads.yaml');
    writeFileSync(
      candidate,
      readFileSync(path.join(demo.root, 'policies', 'file-clerk', 'policy.yaml'), 'utf8').replace(
        'authority: notify_human',
        'authority: deny',
      ),
    );
    const result = await factory('runs', 'replay', runId, '--policy', candidate);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/step 4\s+tool fs\.read_text_file\s+\S*notify_human\S* -> \S*deny/);
    expect(result.stdout).toMatch(/would be denied/);
  });

  it('explains a step as Markdown and as JSON; a bad step is a clean error', async () => {
    const markdown = await factory('runs', 'explain', runId, '--step', '4', '--format', 'markdown');
    expect(markdown.exitCode).toBe(0);
    expect(markdown.stdout).toMatch(/## Step 4: tool `fs.read_text_file` — notify_human/);
    expect(markdown.stdout).toMatch(/file-clerk\/invoices-are-finance-data/);
    expect(markdown.stdout).toMatch(/step 2 result of fs\.list_directory/);
    const json = JSON.parse((await factory('runs', 'explain', runId, '--json')).stdout);
    expect(json.actions).toHaveLength(10);
    const bad = await factory('runs', 'explain', runId, '--step', 'x');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--step must be a positive whole number/);
  });

  it('searches by tool, authority and argument text', async () => {
    const result = await factory('runs', 'search', '--tool', 'fs.*', '--authority', 'deny', '--json');
    const body = JSON.parse(result.stdout);
    expect(body.hits.map((hit: { name: string; step: number }) => `${hit.name}@${hit.step}`)).toEqual(['fs.move_file@8']);
    expect((await factory('runs', 'search', '--text', 'invoice-1042-summary')).stdout).toMatch(/fs\.write_file/);
    expect((await factory('runs', 'search', '--since', 'yesterday')).exitCode).toBe(2);
  });

  it('policy impact prints transitions per rule and gates CI with --fail-on', async () => {
    const candidate = path.join(demo.root, 'deny-reads.yaml');
    const gated = await factory('policy', 'impact', candidate, '--fail-on', 'new-deny');
    expect(gated.exitCode).toBe(1);
    expect(gated.stdout).toMatch(/file-clerk\/invoices-are-finance-data\s+1\s+notify_human -> deny/);
    const ungated = await factory(
      'policy',
      'impact',
      path.join(demo.root, 'policies', 'file-clerk', 'policy.yaml'),
      '--fail-on',
      'any-change',
      '--json',
    );
    expect(ungated.exitCode).toBe(0);
    expect(JSON.parse(ungated.stdout).changed).toBe(0);
  });
});
