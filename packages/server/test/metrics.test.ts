// The Prometheus figures an operator alerts on, fed by a real recorder over a real store: one
// count per decision, boundary violations of every kind, slow model calls in finite buckets, runs
// made by other processes, and an exposition `promtool check metrics` accepts.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { openStore, type Store } from '@aifactory/store';
import { createRecorder } from '@aifactory/verification';
import { acquireRunLease } from '@aifactory/verification/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerMetrics, observingRecorder, type ServerMetrics } from '../src/metrics.ts';

const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool && process.env.CI) throw new Error("promtool is missing: CI installs Debian's prometheus package for the metrics check.");
if (!promtool) console.warn('[metrics] promtool is not installed (apt-get install prometheus): the exposition check is skipped.');

const decided = (step: number, authority: string, rules: Array<{ ruleId: string; authority: string }>) => ({
  type: 'policy.decided' as const,
  actor: 'control-plane',
  payload: {
    step,
    action: { kind: 'tool', name: 'payments.refund' },
    decision: { authority, rules: rules.map((rule) => ({ policy: 'finance-ops', ...rule })) },
  },
});

describe('server metrics', () => {
  let store: Store;
  let metrics: ServerMetrics;
  let text: string;

  beforeAll(async () => {
    store = await openStore();
    metrics = createServerMetrics({ store });
    const recorder = observingRecorder(createRecorder(store), metrics);
    const run = await recorder.startRun({ agent: 'refunder', team: 'payments', principal: 'alice', metadata: { feature: 'refund-desk' } });
    await recorder.recordBatch(run.runId, [
      // Two rules apply: the stricter one decides; the decision is one decision.
      decided(1, 'notify_human', [
        { ruleId: 'small-refunds', authority: 'autonomous' },
        { ruleId: 'tell-finance', authority: 'notify_human' },
      ]),
      decided(2, 'deny', [
        { ruleId: 'tell-finance', authority: 'notify_human' },
        { ruleId: 'no-drops', authority: 'deny' },
      ]),
      {
        type: 'model.responded',
        actor: 'model',
        payload: {
          step: 3,
          model: 'gpt-slow',
          provider: 'openai',
          latency_ms: 45_000,
          usage: { inputTokens: 1200, outputTokens: 300 },
          cost_usd: 0.25,
        },
      },
      { type: 'budget.exceeded', actor: 'control-plane', payload: { step: 4, limit: 'max_cost_usd', value: 2.5, max: 2 } },
      { type: 'approval.rejected', actor: 'approvals', payload: { approval_id: 'apr_1', step: 5 } },
      { type: 'approval.expired', actor: 'approvals', payload: { approval_id: 'apr_2', step: 6 } },
    ]);
    await recorder.finishRun(run.runId, { status: 'failed', payload: { error: 'budget' } });
    // A user's feedback on that run, recorded as the feedback package records it.
    const feedback = await recorder.startRun({
      agent: 'feedback',
      team: 'payments',
      principal: 'carol',
      parentRunId: run.runId,
      metadata: { kind: 'feedback', feedback_of: run.runId, agent_of_run: 'refunder', score: -1, sentiment: 'negative' },
    });
    await recorder.record(feedback.runId, {
      type: 'feedback.given',
      actor: 'carol',
      payload: { run_id: run.runId, run_head: { seq: 1, hash: 'a'.repeat(64) }, by: 'carol', score: -1, sentiment: 'negative' },
    });
    await recorder.finishRun(feedback.runId, { status: 'completed' });
    // Another process (a CLI run, a worker) writing to the same store, unseen by this server's recorder.
    const elsewhere = createRecorder(store);
    await elsewhere.startRun({ agent: 'cli-agent', principal: 'bob' });
    text = await metrics.registry.metrics();
  });

  afterAll(async () => {
    await store.close();
  });

  it('counts each decision once, under the authority that decided, and each applied rule under its own authority', () => {
    expect(text).toMatch(/^aifactory_decisions_total\{authority="notify_human",kind="tool"\} 1$/m);
    expect(text).toMatch(/^aifactory_decisions_total\{authority="deny",kind="tool"\} 1$/m);
    expect(text).not.toMatch(/^aifactory_decisions_total\{authority="autonomous"/m);
    expect(text).toMatch(/^aifactory_decision_rule_matches_total\{authority="autonomous",rule="finance-ops\/small-refunds"\} 1$/m);
    expect(text).toMatch(/^aifactory_decision_rule_matches_total\{authority="notify_human",rule="finance-ops\/tell-finance"\} 2$/m);
  });

  it('counts denials, budget breaches, rejections and expiries as autonomy boundary violations', () => {
    expect(text).toMatch(
      /^aifactory_ai_autonomy_boundary_violations_total\{agent="refunder",kind="deny",rule="finance-ops\/no-drops"\} 1$/m,
    );
    expect(text).toMatch(
      /^aifactory_ai_autonomy_boundary_violations_total\{agent="refunder",kind="budget",rule="limit\/max_cost_usd"\} 1$/m,
    );
    expect(text).toMatch(/^aifactory_ai_autonomy_boundary_violations_total\{agent="refunder",kind="rejection",rule="none"\} 1$/m);
    expect(text).toMatch(/^aifactory_ai_autonomy_boundary_violations_total\{agent="refunder",kind="expiry",rule="none"\} 1$/m);
  });

  it('puts a 45-second model call in a finite inference latency bucket', () => {
    expect(text).toMatch(/^aifactory_ai_inference_latency_seconds_bucket\{le="30",provider="openai",model="gpt-slow"\} 0$/m);
    expect(text).toMatch(/^aifactory_ai_inference_latency_seconds_bucket\{le="60",provider="openai",model="gpt-slow"\} 1$/m);
  });

  it('reads runs by status from the store, so runs other processes made are counted', () => {
    expect(text).toMatch(/^aifactory_runs\{agent="refunder",status="failed"\} 1$/m);
    expect(text).toMatch(/^aifactory_runs\{agent="cli-agent",status="running"\} 1$/m);
  });

  it('charges model cost and tokens to the team and feature of the run, and counts feedback under the agent it is about', () => {
    expect(text).toMatch(
      /^aifactory_model_cost_usd_total\{team="payments",feature="refund-desk",agent="refunder",model="gpt-slow"\} 0\.25$/m,
    );
    expect(text).toMatch(
      /^aifactory_model_tokens_total\{team="payments",feature="refund-desk",agent="refunder",model="gpt-slow",direction="input"\} 1200$/m,
    );
    expect(text).toMatch(/^aifactory_feedback_total\{agent="refunder",sentiment="negative"\} 1$/m);
  });

  it('ships a dashboard with a panel for each figure the operator needs', () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../../deploy/grafana/aifactory-overview.json', import.meta.url), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const panelFor = (pattern: RegExp) =>
      dashboard.panels.find((panel) => (panel.targets ?? []).some((target) => pattern.test(target.expr)));
    const needed: Record<string, RegExp> = {
      'inference latency': /aifactory_ai_inference_latency_seconds_bucket/,
      'cost by team and feature': /sum by \(team, feature\) \(rate\(aifactory_model_cost_usd_total/,
      'decisions by authority': /sum by \(authority\)[^]*aifactory_decisions_total/,
      'boundary violations': /aifactory_ai_autonomy_boundary_violations_total/,
      'approval latency': /aifactory_approval_decision_seconds_bucket/,
      feedback: /aifactory_feedback_total/,
    };
    for (const [figure, pattern] of Object.entries(needed)) expect(panelFor(pattern), `no panel shows ${figure}`).toBeDefined();
  });

  it('names process metrics once under the prefix', () => {
    expect(text).toMatch(/^aifactory_process_cpu_user_seconds_total /m);
    expect(text).not.toContain('aifactory_process_process_');
    expect(text).toMatch(/^aifactory_nodejs_active_resources\{type="[^"]+"\} \d+$/m);
  });

  it('names in the shipped dashboard and alert rules only metrics the server exposes', () => {
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]!));
    for (const file of ['deploy/grafana/aifactory-overview.json', 'deploy/prometheus/alerts.yaml']) {
      const source = readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');
      const named = new Set([...source.matchAll(/\baifactory_[a-z_]+/g)].map((match) => match[0].replace(/_(bucket|count|sum)$/, '')));
      expect(named.size).toBeGreaterThan(5);
      for (const name of named) expect(exposed, `${file} names ${name}`).toContain(name);
    }
  });

  it('passes the lease fence through: a process that lost its lease cannot append through the metrics wrapper', async () => {
    const observed = observingRecorder(createRecorder(store), createServerMetrics({ defaultMetrics: false }));
    await observed.startRun({ id: 'fenced-run', agent: 'refunder', principal: 'alice' }, { lease: { owner: 'first', ttlMs: 50 } });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await acquireRunLease(store, 'fenced-run', 'second', { ttlMs: 60_000 })).toMatchObject({ epoch: 2 });
    const late = { type: 'tool.called' as const, actor: 'first', payload: { step: 1, name: 'payments.refund' } };
    await expect(observed.record('fenced-run', late, { fence: { epoch: 1 } })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(observed.recordBatch('fenced-run', [late], { fence: { epoch: 1 } })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(observed.finishRun('fenced-run', { status: 'failed' }, { fence: { epoch: 1 } })).rejects.toMatchObject({
      code: 'LEASE_LOST',
    });
  });

  it.skipIf(!promtool)('is an exposition promtool accepts', () => {
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!promtool)('ships alert rules that promtool checks and whose unit tests pass', () => {
    const root = new URL('../../../deploy/prometheus/', import.meta.url).pathname;
    execFileSync('promtool', ['check', 'rules', `${root}alerts.yaml`], { stdio: 'pipe' });
    const tested = spawnSync('promtool', ['test', 'rules', `${root}alerts.test.yaml`], { cwd: root, encoding: 'utf8' });
    expect(tested.stdout + tested.stderr).toContain('SUCCESS');
    expect(tested.status).toBe(0);
    // Every alert has a unit test that expects it to fire.
    const alerts = [...readFileSync(`${root}alerts.yaml`, 'utf8').matchAll(/^\s*- alert: (\S+)/gm)].map((match) => match[1]!);
    const tests = readFileSync(`${root}alerts.test.yaml`, 'utf8');
    expect(alerts.length).toBeGreaterThan(5);
    for (const alert of alerts)
      expect(tests, `${alert} has no promtool unit test`).toMatch(new RegExp(`alertname: ${alert}\\s+exp_alerts:\\s+- `));
  });
});
