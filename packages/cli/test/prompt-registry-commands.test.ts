// The prompt registry end to end, in-process against a real embedded store in a temporary home:
// publish immutable versions, evaluate a version, promote it under the shipped promotion policy
// (refused and recorded without a passing eval; held for a prompt owner on production; allowed
// with the approval), run an agent that names `<prompt>@production` and see the version in
// `runs explain`, roll a label back, diff versions, and compare two models side by side.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApprovalsCommands } from '../src/commands/approvals.ts';
import { registerEvalCommand } from '../src/commands/eval.ts';
import { registerPromptsCommands } from '../src/commands/prompts.ts';
import { registerRunsCommands } from '../src/commands/runs.ts';
import { registerRunsForensicsCommands } from '../src/commands/runs-forensics.ts';
import { runProgram } from './run-program.ts';

const repository = path.resolve(import.meta.dirname, '..', '..', '..');
const promotionPolicy = path.join(repository, 'policies', 'prompt-promotion', 'policy.yaml');
const deskPolicy = path.join(repository, 'examples', 'business-app', 'workspace', 'policies', 'order-desk', 'policy.yaml');

describe('factory prompts', () => {
  let home: string;
  let prompts: string;
  let agents: string;
  let suite: string;
  const saved = { home: process.env.AIFACTORY_HOME, database: process.env.DATABASE_URL, url: process.env.AIFACTORY_URL };

  beforeAll(() => {
    home = mkdtempSync(path.join(tmpdir(), 'aifactory-prompts-cli-'));
    process.env.AIFACTORY_HOME = path.join(home, '.factory');
    delete process.env.DATABASE_URL;
    delete process.env.AIFACTORY_URL;
    prompts = path.join(home, 'prompts');
    agents = path.join(home, 'agents');
    mkdirSync(prompts);
    mkdirSync(path.join(agents, 'scripts'), { recursive: true });
    writeDraft('You are the order desk of {{shop}}. Answer briefly.');
    writeFileSync(
      path.join(agents, 'desk.yaml'),
      [
        'apiVersion: aifactory/v1',
        'kind: Agent',
        'metadata: { name: desk, description: Answers order questions. }',
        'spec:',
        '  model: { id: "scripted:desk" }',
        '  prompt: desk@production',
        '  prompt_variables: { shop: Acme }',
        `  policies: [${JSON.stringify(deskPolicy)}]`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(agents, 'scripts', 'desk.yaml'),
      'scenarios:\n  - when_user_contains: where\n    turns: [{ say: Order 1042 arrives on Friday. }]\n  - turns: [{ say: "Thanks: {{last_user_message}}" }]\n',
    );
    writeFileSync(path.join(agents, 'scripts', 'desk-vague.yaml'), 'turns: [{ say: It will arrive at some point. }]\n');
    suite = path.join(home, 'desk-suite.yaml');
    writeFileSync(
      suite,
      'apiVersion: aifactory/v1\nkind: EvalSuite\nmetadata: { name: desk }\nspec:\n  cases:\n    - id: where\n      input: where is my order?\n      expect: { contains: Friday }\n    - id: hello\n      input: hello\n      expect: { contains: hello }\n',
    );
  });
  afterAll(() => {
    for (const [key, value] of [
      ['AIFACTORY_HOME', saved.home],
      ['DATABASE_URL', saved.database],
      ['AIFACTORY_URL', saved.url],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(home, { recursive: true, force: true });
  });

  function writeDraft(template: string): void {
    writeFileSync(
      path.join(prompts, 'desk.yaml'),
      `apiVersion: aifactory/v1\nkind: Prompt\nmetadata: { name: desk, owner: shop@acme.example }\nspec:\n  template: ${JSON.stringify(template)}\n  variables: { shop: { default: the shop } }\n`,
    );
  }

  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    registerPromptsCommands(program);
    registerEvalCommand(program);
    registerApprovalsCommands(program);
    registerRunsForensicsCommands(registerRunsCommands(program));
    const result = await runProgram(program, args);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test reads the JSON document its command prints
    return { ...result, json: () => JSON.parse(result.stdout) as Record<string, any> };
  }
  const promptsCommand = (...args: string[]) => factory('prompts', ...args, '--prompts', prompts);
  const promote = (...args: string[]) => promptsCommand('promote', ...args, '--policy', promotionPolicy, '--json');
  const evaluate = (...args: string[]) => factory('eval', 'desk', '--suite', suite, '--agents', agents, '--json', ...args);

  it('publishes the draft as v1, and publishing the same template again publishes nothing', async () => {
    const first = await promptsCommand('publish', 'desk', '--json');
    expect(first.exitCode).toBe(0);
    expect(first.json()).toMatchObject({ published: true, version: { name: 'desk', version: 1 } });
    const again = await promptsCommand('publish', 'desk', '--json');
    expect(again.json()).toMatchObject({ published: false, version: { version: 1 } });
    const shown = await promptsCommand('show', 'desk@1');
    expect(shown.stdout).toContain('You are the order desk of {{shop}}. Answer briefly.');
  });

  it('refuses to run an agent whose label points nowhere yet, naming the command that fixes it', async () => {
    const result = await evaluate();
    expect(result.json().cases[0].error).toContain("Prompt 'desk' has no version labelled 'production'");
  });

  it('refuses and records a promotion of a version nobody evaluated (exit 1)', async () => {
    const result = await promote('desk@1', '--label', 'production', '--as', 'alice@acme.example', '--role', 'prompt-owner');
    expect(result.exitCode).toBe(1);
    const refusal = result.json();
    expect(refusal).toMatchObject({ outcome: 'refused', eval: { found: false, passed: false } });
    expect(refusal.reason).toContain('no evaluation of this version is on record');
    const shown = (await promptsCommand('show', 'desk', '--json')).json();
    expect(shown.refused).toEqual([
      expect.objectContaining({ record: refusal.record, version: 1, label: 'production', by: 'alice@acme.example' }),
    ]);
    expect(shown.labels).toEqual([]);
    const verified = await factory('runs', 'verify', refusal.record, '--json');
    expect(verified.exitCode).toBe(0);
    const explained = await factory('runs', 'explain', refusal.record);
    expect(explained.stdout).toContain('prompts.promote');
    expect(explained.stdout).toContain('deny');
  });

  it('evaluates a version on the record, then promotes it to staging on that passing eval', async () => {
    const evaluation = await evaluate('--prompt', 'desk@1');
    expect(evaluation.exitCode).toBe(0);
    expect(evaluation.json()).toMatchObject({ passed: true, record: expect.stringMatching(/^evr_/) });
    const result = await promote('desk@1', '--label', 'staging');
    expect(result.exitCode).toBe(0);
    expect(result.json()).toMatchObject({
      outcome: 'promoted',
      previousVersion: null,
      eval: { found: true, passed: true, scores: { accuracy: 1 } },
    });
  });

  // Eleven `factory` processes one after another: 23 s at load 6 here, past the 30-s default at load 15-20.
  it(
    'holds production for a prompt owner, then promotes with the decided approval; runs record the version and runs explain shows it',
    { timeout: 90_000 },
    async () => {
      writeDraft('You are the friendly order desk of {{shop}}. Answer briefly.');
      expect((await promptsCommand('publish', 'desk', '--json')).json()).toMatchObject({ published: true, version: { version: 2 } });
      const diff = await promptsCommand('diff', 'desk', '1', '2');
      expect(diff.exitCode).toBe(1);
      expect(diff.stdout).toContain('+You are the friendly order desk of {{shop}}. Answer briefly.');
      expect((await evaluate('--prompt', 'desk@2')).exitCode).toBe(0);

      const held = await promote('desk@2', '--label', 'production', '--as', 'alice@acme.example', '--role', 'prompt-owner');
      expect(held.exitCode).toBe(1);
      const { approvalId, outcome } = held.json();
      expect(outcome).toBe('held');
      const tooEarly = await promote('desk@2', '--label', 'production', '--approval', approvalId);
      expect(tooEarly.exitCode).toBe(2);
      expect((await promptsCommand('list', '--json')).json().prompts[0].labels.production).toBeUndefined();
      // The deciding vote completes the promotion: nobody runs promote again.
      const vote = await factory('approvals', 'approve', approvalId, '--as', 'bob@acme.example', '--role', 'prompt-owner');
      expect(vote.exitCode).toBe(0);
      expect(vote.stdout).toContain(`Promotion ${held.json().record} completed: the label moved.`);
      expect((await promptsCommand('list', '--json')).json().prompts[0].labels.production).toBe(2);
      const moves = (await promptsCommand('show', 'desk', '--json')).json().labels as Array<{ label: string; record: string }>;
      expect(moves.find((move) => move.label === 'production')?.record).toBe(held.json().record);
      // Asking again with the approval reports how it ended; the approval is not used twice.
      const promoted = await promote('desk@2', '--label', 'production', '--approval', approvalId);
      expect(promoted.exitCode).toBe(0);
      expect(promoted.json()).toMatchObject({ outcome: 'promoted', record: held.json().record });

      const run = await evaluate();
      expect(run.exitCode).toBe(0);
      const runId = run.json().cases[0].runId as string;
      const explained = await factory('runs', 'explain', runId);
      expect(explained.stdout).toContain('(desk v2 via @production)');
      const explainedJson = (await factory('runs', 'explain', runId, '--json')).json();
      expect(explainedJson.run.prompt).toEqual({ name: 'desk', version: 2, label: 'production' });
    },
  );

  it('records a held promotion as refused as soon as its approval is rejected; the label stays where it was', async () => {
    const held = await promote('desk@1', '--label', 'production', '--as', 'alice@acme.example', '--role', 'prompt-owner');
    expect(held.json()).toMatchObject({ outcome: 'held' });
    const { approvalId, record } = held.json();
    const vote = await factory(
      'approvals',
      'reject',
      approvalId,
      '--as',
      'bob@acme.example',
      '--role',
      'prompt-owner',
      '--comment',
      'Not v1.',
    );
    expect(vote.exitCode).toBe(0);
    expect(vote.stdout).toContain(`Promotion ${record} refused: Approval ${approvalId} was rejected by bob@acme.example.`);
    expect((await promptsCommand('list', '--json')).json().prompts[0].labels.production).toBe(2);
    expect(JSON.stringify((await promptsCommand('show', 'desk', '--json')).json())).toContain(record);
  });

  it('rolls a label back to the version it pointed at before, on the record', async () => {
    expect((await promote('desk@2', '--label', 'staging')).json()).toMatchObject({ outcome: 'promoted', previousVersion: 1 });
    const rolled = await promptsCommand('rollback', 'desk', '--label', 'staging', '--json');
    expect(rolled.exitCode).toBe(0);
    expect(rolled.json()).toMatchObject({ version: 1, from: 2 });
    const listed = (await promptsCommand('list', '--json')).json();
    expect(listed.prompts).toEqual([{ name: 'desk', draft: true, versions: 2, latest: 2, labels: { staging: 1, production: 2 } }]);
  });

  it('replays a run of a registry prompt and a run of an evaluation variant identical, as they ran, after the label moved on', async () => {
    writeFileSync(
      path.join(agents, 'desk-staging.yaml'),
      [
        'apiVersion: aifactory/v1',
        'kind: Agent',
        'metadata: { name: desk-staging, description: Answers order questions from the staging prompt. }',
        'spec:',
        '  model: { id: "scripted:desk" }',
        '  prompt: desk@staging',
        '  prompt_variables: { shop: Acme }',
        `  policies: [${JSON.stringify(deskPolicy)}]`,
        '',
      ].join('\n'),
    );
    // staging points at v1 (rolled back above).
    const staged = await factory('eval', 'desk-staging', '--suite', suite, '--agents', agents, '--json');
    expect(staged.exitCode).toBe(0);
    const stagedRun = staged.json().cases[0].runId as string;
    // A variant: another prompt version and another model than the agent's file names.
    const variant = await evaluate('--prompt', 'desk@1', '--model', 'scripted:desk-vague');
    expect(variant.exitCode).toBe(1);
    const variantRun = variant.json().cases[0].runId as string;
    expect((await promote('desk@2', '--label', 'staging')).json()).toMatchObject({ outcome: 'promoted', previousVersion: 1 });

    const staging = await factory('runs', 'replay', stagedRun, '--json');
    expect(staging.exitCode).toBe(0);
    expect(staging.json()).toMatchObject({ outcome: 'identical', divergence: null });
    expect(staging.json().notes.join('\n')).toContain('registry prompt desk v1 via @staging; the replay uses the text it ran with');
    const varied = await factory('runs', 'replay', variantRun, '--json');
    expect(varied.exitCode).toBe(0);
    expect(varied.json()).toMatchObject({ outcome: 'identical', divergence: null });
    expect(varied.json().notes.join('\n')).toContain("model scripted:desk-vague in place of the agent's scripted:desk");
  });

  it('compares two models side by side: the case the second one gets wrong is a regression (exit 1)', async () => {
    const result = await evaluate('--compare', 'model=scripted:desk', 'model=scripted:desk-vague');
    expect(result.exitCode).toBe(1);
    const comparison = result.json();
    expect(comparison.variants).toEqual(['model=scripted:desk', 'model=scripted:desk-vague']);
    expect(comparison.cases.map((entry: { id: string; change: string }) => [entry.id, entry.change])).toEqual([
      ['where', 'regressed'],
      ['hello', 'regressed'],
    ]);
    expect(comparison.scores).toContainEqual({ name: 'accuracy', values: [1, 0], delta: -1 });
    const table = await factory(
      'eval',
      'desk',
      '--suite',
      suite,
      '--agents',
      agents,
      '--compare',
      'model=scripted:desk',
      'model=scripted:desk-vague',
    );
    expect(table.stdout).toMatch(/where\s+pass\s+FAIL\s+regressed/);
  });
});
