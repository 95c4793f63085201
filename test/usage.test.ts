// Cost attribution: runs carry their team (from the agent) and feature (from the agent, or named
// by the run), and `factory usage` sums exactly what the trace's model.responded events say.
import { rmSync } from 'node:fs';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer } from '@aifactory/server';
import { createWorkspaceRuntime, workspaceConfigAt, type WorkspaceRuntime } from '@aifactory/workspace';
import { readRunEvents, summarizeUsage, type UsageRow } from '@aifactory/verification';
import { registerUsageCommand } from '../packages/cli/src/commands/usage.ts';
import { runProgram } from '../packages/cli/test/run-program.ts';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

interface Tally {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  runs: Set<string>;
}

describe('usage by team and feature', () => {
  const demo = prepareDemoWorkspace();
  let store: Store;
  let workspace: WorkspaceRuntime;
  const runFeatures = new Map<string, string>();

  beforeAll(async () => {
    store = await openStore();
    workspace = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
    const principal = { id: 'alice', roles: ['clerk'] };
    for (const feature of [undefined, 'month-end', 'month-end']) {
      const result = await workspace.runtime.start('file-clerk', 'Summarise invoice 1042.', { principal, ...(feature ? { feature } : {}) });
      runFeatures.set(result.runId, feature ?? 'invoice-filing');
    }
  });
  afterAll(async () => {
    await workspace?.close();
    await store?.close();
    rmSync(demo.root, { recursive: true, force: true });
  });

  /** What the trace says, added up by hand: every model.responded event of every run. */
  async function traceTally(): Promise<Map<string, Tally>> {
    const tallies = new Map<string, Tally>();
    for (const [runId, feature] of runFeatures) {
      for await (const event of readRunEvents(store, runId)) {
        if (event.type !== 'model.responded') continue;
        const payload = JSON.parse(event.payloadText ?? '{}') as {
          usage?: { inputTokens?: number; outputTokens?: number };
          cost_usd?: number;
        };
        const tally = tallies.get(feature) ?? { calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, runs: new Set<string>() };
        tally.calls += 1;
        tally.inputTokens += payload.usage?.inputTokens ?? 0;
        tally.outputTokens += payload.usage?.outputTokens ?? 0;
        tally.costUsd += payload.cost_usd ?? 0;
        tally.runs.add(runId);
        tallies.set(feature, tally);
      }
    }
    return tallies;
  }

  it('attributes each run to the agent team and to the feature the run or the agent names', async () => {
    const report = await summarizeUsage(store, { by: ['team', 'feature'] });
    const tallies = await traceTally();
    expect(tallies.size).toBe(2);
    const byFeature = new Map(report.rows.map((row) => [row.feature, row]));
    expect([...byFeature.keys()].sort()).toEqual(['invoice-filing', 'month-end']);
    for (const [feature, tally] of tallies) {
      const row = byFeature.get(feature)!;
      expect(row.team).toBe('back-office');
      expect({
        runs: row.runs,
        calls: row.calls,
        inputTokens: row.inputTokens,
        outputTokens: row.outputTokens,
        costUsd: row.costUsd,
      }).toEqual({
        runs: tally.runs.size,
        calls: tally.calls,
        inputTokens: tally.inputTokens,
        outputTokens: tally.outputTokens,
        costUsd: tally.costUsd,
      });
      expect(row.calls).toBeGreaterThan(0);
      expect(row.inputTokens).toBeGreaterThan(0);
    }
    expect(byFeature.get('month-end')!.runs).toBe(2);
    expect(report.total.calls).toBe([...tallies.values()].reduce((sum, tally) => sum + tally.calls, 0));
  });

  it('prints the same figures from `factory usage`, as a table and as JSON, and refuses an unknown dimension', async () => {
    const program = () => {
      const command = new Command('factory').exitOverride();
      registerUsageCommand(command, { openStore: async () => ({ ...store, close: async () => {} }) });
      return command;
    };
    const json = await runProgram(program(), ['usage', '--by', 'feature,agent,model', '--since', '1h', '--json']);
    expect(json.exitCode).toBe(0);
    const report = JSON.parse(json.stdout) as { rows: UsageRow[]; total: { calls: number } };
    expect(report.rows.every((row) => row.agent === 'file-clerk' && typeof row.model === 'string')).toBe(true);
    expect(report.total.calls).toBe((await summarizeUsage(store)).total.calls);
    const text = await runProgram(program(), ['usage', '--by', 'team,feature']);
    expect(text.stdout).toMatch(/^team\s+feature\s+runs\s+calls\s+input tokens\s+output tokens\s+cost \(USD\)$/m);
    expect(text.stdout).toMatch(/^back-office\s+month-end\s+2\s+\d+/m);
    expect(text.stdout).toMatch(/^total\s+3\s+\d+/m);
    const future = await runProgram(program(), ['usage', '--since', '2099-01-01T00:00:00Z']);
    expect(future.stdout).toMatch(/No model calls recorded since 2099-01-01/);
    const bad = await runProgram(program(), ['usage', '--by', 'team,colour']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/cannot be grouped by 'colour'; use any of team, feature, agent, model/);
  });

  it('prints the same report through a server (--server with AIFACTORY_TOKEN), for auditors only', async () => {
    const server = await startServer({
      store,
      config: workspaceConfigAt(demo.dataDir, { agentsDir: demo.agentsDir }),
      port: 0,
      log: () => undefined,
      llmGateway: false,
    });
    const saved = { url: process.env.AIFACTORY_URL, token: process.env.AIFACTORY_TOKEN };
    const program = () => {
      const command = new Command('factory').exitOverride();
      // Were the command to open a store instead of asking the server, it would find none.
      registerUsageCommand(command, { openStore: () => Promise.reject(new Error('the store was opened although a server was named')) });
      return command;
    };
    try {
      process.env.AIFACTORY_URL = server.url;
      process.env.AIFACTORY_TOKEN = (await createApiToken(store, { principal: 'audrey', roles: ['auditor'] })).token;
      const json = await runProgram(program(), ['usage', '--by', 'team,feature', '--since', '1h', '--json']);
      expect(json.stderr).toBe('');
      expect(json.exitCode).toBe(0);
      const report = JSON.parse(json.stdout) as { since: string; rows: UsageRow[] };
      expect(report).toEqual(
        JSON.parse(JSON.stringify(await summarizeUsage(store, { by: ['team', 'feature'], since: new Date(report.since) }))),
      );
      expect(report.rows.find((row) => row.feature === 'month-end')!.runs).toBe(2);
      const text = await runProgram(program(), ['usage', '--by', 'team,feature']);
      expect(text.stdout).toMatch(/^back-office\s+month-end\s+2\s+\d+/m);
      // An operator's token does not reach the report: the server answers as if it were not there.
      process.env.AIFACTORY_TOKEN = (await createApiToken(store, { principal: 'olly', roles: ['operator'] })).token;
      const refused = await runProgram(program(), ['usage', '--json']);
      expect(refused.exitCode).not.toBe(0);
      expect(`${refused.stdout}${refused.stderr}`).toMatch(/"code": "NOT_FOUND"[\s\S]*No route is visible to you/);
    } finally {
      for (const [key, value] of [
        ['AIFACTORY_URL', saved.url],
        ['AIFACTORY_TOKEN', saved.token],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await server.close();
    }
  });
});
