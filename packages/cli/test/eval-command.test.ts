// `factory eval`, in-process against a real embedded store in a temporary home, with the business
// app's order desk (a scripted model, no tools): a passing suite exits 0 and writes JUnit, a case
// below its threshold exits 1 and says why, a bad suite exits 2 naming file, line and column —
// before any run starts.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerEvalCommand } from '../src/commands/eval.ts';
import { registerFeedbackCommands } from '../src/commands/feedback.ts';
import { registerRunsCommands } from '../src/commands/runs.ts';
import { registerRunsForensicsCommands } from '../src/commands/runs-forensics.ts';
import { runProgram } from './run-program.ts';

const repository = path.resolve(import.meta.dirname, '..', '..', '..');
const agents = path.join(repository, 'examples', 'business-app', 'workspace', 'agents');

describe('factory eval', () => {
  let home: string;
  const saved = { home: process.env.AIFACTORY_HOME, database: process.env.DATABASE_URL, url: process.env.AIFACTORY_URL };

  beforeAll(() => {
    home = mkdtempSync(path.join(tmpdir(), 'aifactory-eval-cli-'));
    process.env.AIFACTORY_HOME = home;
    delete process.env.DATABASE_URL;
    delete process.env.AIFACTORY_URL;
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

  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    registerEvalCommand(program);
    return runProgram(program, ['eval', ...args]);
  }

  async function feedback(...args: string[]) {
    const program = new Command('factory').exitOverride();
    registerFeedbackCommands(program);
    return runProgram(program, ['feedback', ...args]);
  }

  it('runs the shipped order-desk suite: every case a governed run, JSON with run ids, JUnit written, exit 0', async () => {
    const junit = path.join(home, 'report.xml');
    const result = await factory(
      'order-desk',
      '--suite',
      path.join(repository, 'evals', 'order-desk.yaml'),
      '--agents',
      agents,
      '--json',
      '--junit',
      junit,
    );
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as {
      passed: boolean;
      cases: Array<{ id: string; status: string; runId: string; passed: boolean }>;
      scores: Record<string, number>;
    };
    expect(report.passed).toBe(true);
    expect(report.cases.map((entry) => [entry.id, entry.status, entry.passed])).toEqual([
      ['where-is-my-order', 'completed', true],
      ['refund-waits-for-a-support-lead', 'held', true],
      ['echoes-other-messages', 'completed', true],
    ]);
    expect(report.cases.every((entry) => entry.runId.startsWith('run_'))).toBe(true);
    expect(report.scores).toMatchObject({ accuracy: 1, outcome: 1 });
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('<testcase classname="eval.order-desk" name="refund-waits-for-a-support-lead"');
    expect(xml).toContain('tests="4" failures="0" errors="0"');
  });

  it('exits 1 below a threshold, naming the failing case and what it expected', async () => {
    const suite = path.join(home, 'strict.yaml');
    writeFileSync(
      suite,
      'apiVersion: aifactory/v1\nkind: EvalSuite\nmetadata: { name: strict }\nspec:\n  cases:\n    - id: refund-autonomous\n      input: I want a refund\n      expect: { outcome: autonomous }\n    - id: delivery\n      input: where is it\n      expect: { contains: Friday }\n  thresholds: { pass_rate: 1 }\n',
    );
    const result = await factory('order-desk', '--suite', suite, '--agents', agents);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/FAIL\s+refund-autonomous\s+held .*outcome: Expected the run to be autonomous; it was held\./);
    expect(result.stdout).toMatch(/pass\s+delivery\s+completed/);
    expect(result.stdout).toContain('FAILED:\n  - 1 of 2 cases passed (50%); the suite needs 100%.');
  });

  it('refuses a bad suite with file:line:column before any run, exit 2', async () => {
    const suite = path.join(home, 'bad.yaml');
    writeFileSync(
      suite,
      'apiVersion: aifactory/v1\nkind: EvalSuite\nmetadata: { name: bad }\nspec:\n  cases:\n    - id: one\n      input: hi\n      expect: { outcom: held }\n',
    );
    const text = await factory('order-desk', '--suite', suite, '--agents', agents);
    expect(text.exitCode).toBe(2);
    expect(text.stderr).toContain(`${suite}:8:17`);
    expect(text.stderr).toContain("Unknown key 'outcom' in spec.cases[0].expect; did you mean 'outcome'?");
    const json = await factory('order-desk', '--suite', suite, '--agents', agents, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      error: { code: 'INPUT_INVALID', location: { line: 8, column: 17, path: 'spec.cases[0].expect.outcom' } },
    });
    const missing = await factory('order-desk', '--suite', path.join(home, 'nope.yaml'));
    expect(missing).toMatchObject({ exitCode: 2, stderr: expect.stringContaining('Cannot read the evaluation suite') });
    const wrongAgent = await factory('file-clerk', '--suite', path.join(repository, 'evals', 'order-desk.yaml'));
    expect(wrongAgent.stderr).toContain("The suite 'order-desk' is written for agent 'order-desk', not 'file-clerk'");
    const unknownCase = await factory('order-desk', '--suite', path.join(repository, 'evals', 'order-desk.yaml'), '--case', 'nope');
    expect(unknownCase.stderr).toContain("No case 'nope' in");
    expect(existsSync(path.join(home, 'report.xml'))).toBe(true);
  });

  it('takes feedback on an eval run, finds it by sentiment, and exports its correction as a case that fails until the agent changes', async () => {
    const suiteFile = path.join(repository, 'evals', 'order-desk.yaml');
    const ran = JSON.parse(
      (await factory('order-desk', '--suite', suiteFile, '--agents', agents, '--case', 'where-is-my-order', '--json')).stdout,
    ) as { cases: Array<{ runId: string }> };
    const runId = ran.cases[0]!.runId;
    const given = await feedback(
      'give',
      runId,
      '--score',
      'down',
      '--comment',
      'Which Friday?',
      '--correction',
      'arrives on Friday 12 June',
      '--as',
      'erin@shop.example',
    );
    expect(given.exitCode).toBe(0);
    expect(given.stdout).toMatch(/^Recorded negative feedback \(score -1\) on run_\S+ as fb_\S+, bound to its head #\d+\.$/m);
    expect((await feedback('give', runId, '--score', '3')).stderr).toContain(
      "--score: '3' is not a number from -1 (bad) to 1 (good), up or down.",
    );
    const listed = JSON.parse((await feedback('list', '--sentiment', 'negative', '--json')).stdout) as {
      feedback: Array<{ runId: string; by: string; comment: string }>;
    };
    expect(listed.feedback).toEqual([expect.objectContaining({ runId, by: 'erin@shop.example', comment: 'Which Friday?' })]);
    expect((await feedback('list', '--sentiment', 'positive')).stdout).toContain('No feedback matches.');
    const runsProgram = new Command('factory').exitOverride();
    registerRunsCommands(runsProgram);
    const judged = JSON.parse((await runProgram(runsProgram, ['runs', 'list', '--feedback', 'negative', '--json'])).stdout) as {
      runs: Array<{ id: string }>;
    };
    expect(judged.runs.map((run) => run.id)).toEqual([runId]);
    registerRunsForensicsCommands(runsProgram.commands.find((command) => command.name() === 'runs')!);
    const searched = JSON.parse((await runProgram(runsProgram, ['runs', 'search', '--feedback', 'negative', '--json'])).stdout) as {
      runs: string[];
    };
    expect(searched.runs).toEqual([runId]);
    const exported = path.join(home, 'feedback-suite.yaml');
    const result = await feedback('export', '--agent', 'order-desk', '--to-suite', exported, '--assert', 'contains');
    expect(result.stdout).toMatch(/^1 case added to .*feedback-suite\.yaml: feedback-[0-9a-f]{8}\.$/m);
    const evaluated = await factory('order-desk', '--suite', exported, '--agents', agents);
    expect(evaluated.exitCode).toBe(1);
    expect(evaluated.stdout).toContain("contains: Expected the answer to contain 'arrives on Friday 12 June'");
  });
});
