// `pnpm demo`: the main job, offline. The file-clerk agent (agents/file-clerk.yaml) runs with its
// scripted model on the embedded store (PGlite), against the real MCP filesystem server, under
// policies/file-clerk/policy.yaml. It shows all four authorities, holds for an approval, leaves a
// notification for finance, resumes in a fresh runtime (as another process would after the
// approval) and ends by verifying the sealed, hash-chained trace. It checks what it shows and
// exits non-zero when anything is off.
//
// With OPENAI_API_KEY, ANTHROPIC_API_KEY or OPENAI_BASE_URL set (AIFACTORY_DEMO_MODEL picks the
// model), the same agent runs on a real model; the demo then checks only that the run is governed
// and verifies.
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { listNotifications, type RunEvent } from '@aifactory/execution';
import { openWorkspace, openWorkspaceStore, workspaceConfigAt } from '@aifactory/workspace';
import pc from 'picocolors';
import { createRunRenderer } from '../../packages/cli/src/commands/run.ts';
import { prepareDemoWorkspace } from './demo-workspace.ts';

const problems: string[] = [];
function check(condition: boolean, what: string): void {
  if (!condition) problems.push(what);
}

function realModel(env: NodeJS.ProcessEnv): string | undefined {
  if (env.AIFACTORY_DEMO_MODEL) return env.AIFACTORY_DEMO_MODEL;
  if (env.OPENAI_API_KEY || env.OPENAI_BASE_URL) return 'openai:gpt-4o-mini';
  if (env.ANTHROPIC_API_KEY) return 'anthropic:claude-haiku-4-5';
  return undefined;
}

const heading = (text: string) => process.stdout.write(`\n${pc.bold(pc.cyan(`== ${text}`))}\n`);

const demo = prepareDemoWorkspace();
const model = realModel(process.env);
if (model) {
  const agentFile = path.join(demo.agentsDir, 'file-clerk.yaml');
  writeFileSync(agentFile, readFileSync(agentFile, 'utf8').replace(/id: "scripted:[^"]+"/, `id: "${model}"`));
}
// One configuration for every process of the demo: the store, the seal key and the agents folder.
const config = workspaceConfigAt(demo.dataDir, { agentsDir: demo.agentsDir, policiesDir: path.join(demo.root, 'policies') });
const store = await openWorkspaceStore(config);
const task = 'Summarise invoice 1042 for finance, then archive the original.';
try {
  heading(`1. alice (clerk) asks the file-clerk agent: "${task}"`);
  process.stdout.write(
    pc.dim(
      `   model ${model ?? 'scripted (offline)'} · store PGlite at ${demo.dataDir} · MCP filesystem server over a copy of examples/demo/workspace\n`,
    ),
  );
  const first = await openWorkspace(config, { store });
  const events: RunEvent[] = [];
  const render = createRunRenderer();
  const onEvent = (event: RunEvent) => {
    events.push(event);
    render(event);
  };
  let result = await first.startRun({
    agent: 'file-clerk',
    input: task,
    principal: { id: 'alice@acme.example', roles: ['clerk'] },
    onEvent,
  });
  const runId = result.runId;

  if (result.status === 'held') {
    const approvalId = result.held.approvalId;
    heading('2. alice tries to approve her own request (separation of duties)');
    try {
      await first.voteAndResume({ approvalId, ballot: { approver: { id: 'alice@acme.example', roles: ['ops-lead'] }, vote: 'approve' } });
      check(false, 'the requester could approve her own run');
    } catch (error) {
      process.stdout.write(`   ${pc.red('refused')}: ${(error as Error).message}\n`);
    }
    heading('3. bob (ops-lead) approves in a fresh workspace (as another process would); it resumes the run from its stored checkpoint');
    await first.close();
    const second = await openWorkspace(config, { store });
    const outcome = await second.voteAndResume({
      approvalId,
      ballot: { approver: { id: 'bob@acme.example', roles: ['ops-lead'] }, vote: 'approve', comment: 'Summary looks right.' },
      onVoted: (vote) => void process.stdout.write(`   ${pc.green(vote.kind)} by bob@acme.example\n`),
      onEvent,
    });
    check(outcome.kind === 'decided' && outcome.resumed !== undefined, `bob's vote did not resume the run (${outcome.kind})`);
    if (outcome.kind === 'decided' && outcome.resumed) result = await outcome.resumed;
    try {
      await second.runtime.resume(runId, { approvalId });
      check(false, 'an approval could be used twice');
    } catch (error) {
      process.stdout.write(`   ${pc.dim(`a second resume with the same approval is refused: ${(error as Error).message}`)}\n`);
    }
    await second.close();
  } else {
    await first.close();
  }

  heading('4. the inbox of finance');
  const inbox = await listNotifications(store, { inbox: 'finance' });
  for (const item of inbox) process.stdout.write(`   ✉ ${item.target}: ${JSON.stringify(item.payload)}\n`);

  heading('5. an auditor verifies the run');
  const auditor = await openWorkspace(config, { store });
  const report = await auditor.verifyRun(runId);
  await auditor.close();
  process.stdout.write(
    `   ${report.ok ? pc.green('✓ intact') : pc.red('✗ broken')}: ${JSON.stringify({ run: runId, events: report.events, sealed: report.sealed, ...(report.problem ? { problem: report.problem } : {}) })}\n`,
  );
  check(report.ok, `run ${runId} does not verify`);

  const authorities = new Set<string>(
    events.filter((event) => event.type === 'action.decided').map((event) => (event.type === 'action.decided' ? event.authority : '')),
  );
  check(result.status === 'completed', `the run ended ${result.status}`);
  if (!model) {
    for (const authority of ['autonomous', 'notify_human', 'require_approval', 'deny'])
      check(authorities.has(authority), `no ${authority} decision was shown`);
    check(inbox.length === 1, `finance has ${inbox.length} notifications, expected 1`);
    check(existsSync(path.join(demo.sharedFolder, 'reports', 'invoice-1042-summary.md')), 'the approved summary was not written');
    check(existsSync(path.join(demo.sharedFolder, 'invoices', 'invoice-1042.txt')), 'the denied move happened');
  }
  heading('next');
  process.stdout.write(
    `   run it yourself:  pnpm factory run file-clerk --input "${task}"\n   then:             pnpm factory approvals list · pnpm factory runs show <run> · pnpm factory runs verify --all\n`,
  );
} finally {
  await store.close();
  rmSync(demo.root, { recursive: true, force: true });
}

if (problems.length > 0) {
  process.stderr.write(`\n${pc.red('demo failed')}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`\n${pc.green('demo ok')}: all four authorities, an approval, a notification, a verified run.\n`);
