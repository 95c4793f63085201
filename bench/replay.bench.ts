// Replay and impact figures.
// 1. Replay of a recorded 1,000-action run: a scripted agent lists a folder through the real MCP
//    filesystem server, 9 calls per model turn (100 model steps + 900 tool steps + the answer),
//    recorded by the real runtime on PGlite; then replayed from the trace (no model, no tool).
//    Peer: the original recording of the same run (replay / record ratio). Target: < 2 s.
// 2. Impact over 10,000 recorded actions (100 runs x 100 payments decisions under finance-ops,
//    written through the recorder), re-decided under a stricter finance-ops. Loading is timed
//    apart; peer: bare decide() over the same rebuilt actions. Target: < 1 s beyond loading.
// BENCH_QUICK=1 shrinks both (200 actions, 1,000 decisions).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePolicies, decide, loadPolicyFiles } from '@aifactory/control';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { impactOfActions, loadRecordedRun, policyImpact, recordedActions, replayRun } from '@aifactory/execution/replay';
import { openStore } from '@aifactory/store';
import { createRecorder } from '@aifactory/verification';

const quick = process.env.BENCH_QUICK === '1';
const modelTurns = quick ? 20 : 100;
const callsPerTurn = 9;
const impactRuns = quick ? 10 : 100;
const actionsPerRun = 100;
const root = mkdtempSync(path.join(tmpdir(), 'aifactory-replay-bench-'));
const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

try {
  // ---- 1. replay of a recorded long run
  const agentsDir = path.join(root, 'agents');
  mkdirSync(path.join(agentsDir, 'scripts'), { recursive: true });
  mkdirSync(path.join(root, 'folder'), { recursive: true });
  writeFileSync(path.join(root, 'folder', 'note.txt'), 'hello\n');
  writeFileSync(
    path.join(root, 'policy.yaml'),
    `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: looper, version: 1 }
spec:
  default: { tool: require_approval, model: autonomous, answer: autonomous }
  limits: { max_steps: 100000, max_tool_calls: 100000, max_duration: 1h }
  rules:
    - id: listing
      match: { kind: tool, name: fs.list_directory }
      authority: autonomous
`,
  );
  const turns: string[] = [];
  for (let turn = 0; turn < modelTurns; turn += 1) {
    turns.push(
      `      - say: Turn ${turn}.\n        tool_calls:\n${Array.from({ length: callsPerTurn }, () => '          - name: fs.list_directory\n            args: { path: "." }\n').join('')}`,
    );
  }
  turns.push('      - say: Done listing.\n');
  writeFileSync(path.join(agentsDir, 'scripts', 'looper.script.yaml'), `scenarios:\n  - turns:\n${turns.join('')}`);
  writeFileSync(
    path.join(agentsDir, 'looper.yaml'),
    `apiVersion: aifactory/v1
kind: Agent
metadata: { name: looper, description: Lists a folder again and again (replay benchmark). }
spec:
  model: { id: "scripted:looper.script", script: ./scripts/looper.script.yaml }
  system_prompt: List the folder again and again.
  tools:
    - server: fs
      package: "@modelcontextprotocol/server-filesystem"
      args: ["${path.join(root, 'folder')}"]
      allow: [list_directory]
  policies: [../policy.yaml]
`,
  );
  const store = await openStore();
  const workspace = await createWorkspaceRuntime({ store, dataDir: path.join(root, '.factory'), agentsDir });
  // Warm the session (MCP server start) so the recording figure is the run itself.
  await workspace.runtime.start('looper', 'warm up', { principal: { id: 'bench', roles: [] } });
  const recordStarted = performance.now();
  const recorded = await workspace.runtime.start('looper', 'go', { principal: { id: 'bench', roles: [] } });
  const recordMs = performance.now() - recordStarted;
  if (recorded.status !== 'completed') throw new Error(`the looper run ended ${recorded.status}`);
  const run = await loadRecordedRun(store, recorded.runId);
  const actions = recordedActions(run).length;
  const replay = await replayRun(store, { runId: recorded.runId, recorder: workspace.recorder });
  if (replay.outcome !== 'identical') throw new Error(`replay ${replay.outcome}: ${JSON.stringify(replay.divergence)}`);
  const unrecorded = await replayRun(store, { runId: recorded.runId });
  await workspace.close();
  await store.close();

  // ---- 2. impact over many recorded actions
  const impactStore = await openStore();
  const recorder = createRecorder(impactStore, { groupCommit: { maxRows: 1000 } });
  const finance = path.join(repository, 'policies', 'finance-ops', 'policy.yaml');
  const current = compilePolicies(await loadPolicyFiles([finance]));
  const stricterFile = path.join(root, 'finance-stricter.yaml');
  writeFileSync(
    stricterFile,
    readFileSync(finance, 'utf8')
      .replace('action.args.amount > 100 && action.args.amount <= 5000', 'action.args.amount > 50 && action.args.amount <= 1000')
      .replace('when: action.args.amount > 5000', 'when: action.args.amount > 1000'),
  );
  const stricter = compilePolicies(await loadPolicyFiles([stricterFile]));
  const writeStarted = performance.now();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let runIndex = 0; runIndex < impactRuns; runIndex += 1) {
    const runId = `impact-${runIndex}`;
    await recorder.startRun({
      id: runId,
      agent: 'refund-bot',
      team: 'finance',
      principal: `clerk-${runIndex % 7}`,
      metadata: { principal_roles: ['clerk'] },
    });
    const events = [];
    for (let step = 1; step <= actionsPerRun; step += 1) {
      const name = random() < 0.8 ? 'payments.refund' : 'payments.get_balance';
      const args =
        name === 'payments.refund'
          ? { order: runIndex * 1000 + step, amount: Math.round(random() * 8000), currency: 'EUR' }
          : { account: 'main' };
      const action = {
        kind: 'tool' as const,
        name,
        args,
        agent: { id: 'refund-bot', team: 'finance' },
        principal: { id: `clerk-${runIndex % 7}`, roles: ['clerk'] },
        run: { id: runId, steps: step - 1, tool_calls: step - 1, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
      };
      const decision = decide(current, action, { data: { classifications: [] }, now: new Date() });
      events.push({
        type: 'policy.decided' as const,
        actor: 'control-plane',
        payload: { step, action: { kind: 'tool', name, args }, decision },
      });
      events.push({ type: 'tool.returned' as const, actor: name, payload: { step, name, content: 'ok' } });
    }
    await recorder.recordBatch(runId, events);
    await recorder.finishRun(runId, { status: 'completed' });
  }
  const writeMs = performance.now() - writeStarted;
  const impact = await policyImpact(impactStore, stricter, {});
  // Peer: decide() alone over the same rebuilt actions, and the analysis again on loaded actions.
  const loaded = [];
  for (let runIndex = 0; runIndex < impactRuns; runIndex += 1)
    loaded.push(...recordedActions(await loadRecordedRun(impactStore, `impact-${runIndex}`)));
  const decideStarted = performance.now();
  for (const entry of loaded) decide(stricter, entry.action, entry.context);
  const decideMs = performance.now() - decideStarted;
  const analyseStarted = performance.now();
  impactOfActions(loaded, stricter, impactRuns);
  const analyseAgainMs = performance.now() - analyseStarted;
  await impactStore.close();

  const results = {
    quick,
    replay: {
      actions,
      events: run.events.length,
      recordMs: Math.round(recordMs),
      replayMs: Math.round(replay.durationMs),
      replayUnrecordedMs: Math.round(unrecorded.durationMs),
      replayToRecordRatio: Number((replay.durationMs / recordMs).toFixed(3)),
      targetMs: 2000,
      withinTarget: replay.durationMs < 2000,
    },
    impact: {
      actions: impact.actions,
      runs: impact.runs,
      changed: impact.changed,
      rows: impact.rows,
      writeMs: Math.round(writeMs),
      loadMs: Math.round(impact.timings.loadMs),
      analyseMs: Number(impact.timings.analyseMs.toFixed(1)),
      analyseAgainMs: Number(analyseAgainMs.toFixed(1)),
      bareDecideMs: Number(decideMs.toFixed(1)),
      analyseToDecideRatio: Number((analyseAgainMs / decideMs).toFixed(2)),
      targetMs: 1000,
      withinTarget: impact.timings.analyseMs < 1000,
    },
    loadAverage: (await import('node:os')).loadavg().map((value) => Number(value.toFixed(2))),
  };
  console.table([
    {
      figure: `replay of ${actions} recorded actions (recorded as a run)`,
      ms: results.replay.replayMs,
      peer: `recording it: ${results.replay.recordMs} ms`,
      ratio: results.replay.replayToRecordRatio,
    },
    { figure: 'replay, not recorded', ms: results.replay.replayUnrecordedMs, peer: '', ratio: '' },
    {
      figure: `impact over ${impact.actions} actions (beyond loading)`,
      ms: results.impact.analyseMs,
      peer: `bare decide(): ${results.impact.bareDecideMs} ms`,
      ratio: results.impact.analyseToDecideRatio,
    },
    { figure: 'loading those actions', ms: results.impact.loadMs, peer: '', ratio: '' },
  ]);
  console.table(impact.rows);
  mkdirSync(path.join(repository, 'bench', 'results'), { recursive: true });
  writeFileSync(path.join(repository, 'bench', 'results', 'replay.json'), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
