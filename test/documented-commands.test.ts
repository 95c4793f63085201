// The commands README.md and docs/*.md print, checked against the real `factory` program: every
// code fence is closed, every documented command exists with every option it is shown with, and
// every one runs, in one temporary home (a copy of the workspace folders, its own AIFACTORY_HOME),
// with exit 0 or the documented exception — placeholders (<run>, <id>, apr_…, tok_…) replaced by
// ids made there. Commands that serve until stopped or need a remote peer are listed with the test
// that runs them.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../packages/cli/src/main.ts';
import { runProgram } from '../packages/cli/test/run-program.ts';
import { repositoryRoot } from '../examples/demo/demo-workspace.ts';
import { openStore, sql } from '@aifactory/store';

const databaseUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

const documents = [
  'README.md',
  ...readdirSync(path.join(repositoryRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** `factory …` command lines of a Markdown file (fenced sh blocks and indented blocks), without comments. */
function documentedCommands(file: string): Array<{ line: number; words: string[]; text: string }> {
  const found: Array<{ line: number; words: string[]; text: string }> = [];
  readFileSync(path.join(repositoryRoot, file), 'utf8')
    .split('\n')
    .forEach((raw, index) => {
      const text = raw.replace(/\s+#\s.*$/, '').trim();
      const match = /^(?:pnpm (?:--silent )?)?factory\s+(.*)$/.exec(text);
      if (!match || text.endsWith('\\')) return;
      found.push({ line: index + 1, words: shellWords(match[1]!), text });
    });
  return found;
}

/** Splits a command line like a POSIX shell would (quotes only; enough for the docs). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) {
    const word = match[1] ?? match[2] ?? match[3]!;
    if (word === '>' || word === '|' || word.startsWith('>')) break;
    words.push(word);
  }
  return words;
}

function commandFor(program: Command, words: string[]): { command: Command; rest: string[] } {
  let command = program;
  let index = 0;
  // The program's own options (factory --server URL runs list) come before the command: each one
  // must exist, and its value is skipped.
  while (index < words.length && words[index]!.startsWith('-')) {
    const option = program.options.find((candidate) => candidate.long === words[index]!.split('=')[0] || candidate.short === words[index]);
    if (!option) break;
    index += option.required && !words[index]!.includes('=') ? 2 : 1;
  }
  for (; index < words.length; index += 1) {
    const next = command.commands.find((candidate) => candidate.name() === words[index] || candidate.aliases().includes(words[index]!));
    if (!next) break;
    command = next;
  }
  return { command, rest: words.slice(index) };
}

describe('documented commands', () => {
  it('every code fence in README.md and docs/ is closed', () => {
    for (const file of documents) {
      const fences = readFileSync(path.join(repositoryRoot, file), 'utf8')
        .split('\n')
        .filter((line) => /^\s*```/.test(line));
      expect(fences.length % 2, `${file} has an unclosed code fence`).toBe(0);
    }
  });

  it('every documented factory command exists and knows every option it is shown with', async () => {
    const program = await buildProgram();
    const problems: string[] = [];
    let checked = 0;
    for (const file of documents) {
      for (const { line, words, text } of documentedCommands(file)) {
        checked += 1;
        const { command, rest } = commandFor(program, words);
        if (command === program) {
          problems.push(`${file}:${line}: no command '${words[0]}' (${text})`);
          continue;
        }
        const known = new Set(command.options.flatMap((option) => [option.long, option.short]).filter(Boolean));
        for (const word of rest) {
          if (!word.startsWith('-')) continue;
          const flag = word.split('=')[0]!;
          if (!known.has(flag) && flag !== '--help' && flag !== '-h')
            problems.push(`${file}:${line}: '${command.name()}' has no option ${flag} (${text})`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(30);
  }, 60_000);

  it("the README's risk-officer commands run as printed and exit 0", async () => {
    const lines = documentedCommands('README.md').filter(
      ({ words }) => words[0] === 'policy' && ['lint', 'test', 'explain'].includes(words[1]!),
    );
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const previous = process.cwd();
    process.chdir(repositoryRoot);
    try {
      for (const { words, text } of lines) {
        const result = await runProgram(await buildProgram('policy'), words);
        expect(result.exitCode, `${text}\n${result.stdout}${result.stderr}`).toBe(0);
        if (words[1] === 'explain') expect(result.stdout, text).toMatch(/^notify_human/);
      }
    } finally {
      process.chdir(previous);
    }
  }, 60_000);
});

/**
 * How a documented line is run: the words after `factory`, with `[optional]` groups and the
 * description after a wide gap dropped, and placeholders (<run>, <id>, apr_…, tok_…, /path/to/…)
 * replaced by real ids made earlier in the same temporary home.
 */
function runnableWords(text: string): string[] {
  const body = text.replace(/^(?:pnpm (?:--silent )?)?factory\s+/, '').split(/\s{3,}/)[0]!;
  const words = shellWords(body);
  const kept: string[] = [];
  let depth = 0;
  for (const word of words) {
    if (word.startsWith('[')) depth += 1;
    if (depth === 0) kept.push(word);
    if (word.endsWith(']')) depth = Math.max(0, depth - 1);
  }
  return kept;
}

/** Commands that serve until stopped or need a network peer: their shape is checked above, and the process tests run them. */
const longRunning: Array<{ match: (words: string[]) => boolean; why: string }> = [
  { match: (words) => words[0] === 'serve', why: 'serves until stopped (test/processes/serve-and-cli, notifications-reach-people run it)' },
  { match: (words) => words[0] === 'mcp' && words[1] === 'serve', why: 'serves until stopped (packages/server/test/mcp-serve runs it)' },
  {
    match: (words) => words[0] === 'mcp' && words[1] === 'proxy',
    why: 'proxies an upstream MCP server until stopped (packages/server tests run it)',
  },
  { match: (words) => words[0] === 'worker', why: 'works the job queue until stopped' },
  {
    match: (words) => words[0] === 'witness' && words[1] === 'serve',
    why: 'serves until stopped (packages/cli/test/witness-commands runs it)',
  },
  {
    match: (words) => words[0] === 'witness' && words[1] === 'show',
    why: 'reads a witness a server keeps (packages/cli/test/witness-commands)',
  },
  { match: (words) => words[0] === '--server', why: 'talks to a remote server at a documented example address' },
  {
    match: (words) => words[0] === 'notifications' && words[1] === 'deliver',
    why: 'delivers to the configured Slack and SMTP peers (test/processes/notifications-reach-people)',
  },
];

/** Exit codes other than 0 that a documented line rightly gives in a fresh home, and why. */
const expectedExit: Array<{ match: (words: string[]) => boolean; code: number; why: string }> = [
  { match: (words) => words[0] === 'runs' && words[1] === 'resolve', code: 2, why: 'the run is not in doubt (nothing crashed mid-call)' },
  { match: (words) => words[0] === 'runs' && words[1] === 'seal', code: 2, why: 'the run is held, not left unsealed by a crash' },
  {
    match: (words) => words[0] === 'feedback' && words[1] === 'export',
    code: 2,
    why: "no feedback was given on that agent's runs here, so the exported suite would evaluate nothing",
  },
  {
    match: (words) => words[0] === 'runs' && words[1] === 'replay' && words.includes('--policy'),
    code: 1,
    why: 'decisions change under the proposed policy, and a what-if exits 1 when they do',
  },
  {
    match: (words) => words[0] === 'prompts' && words[1] === 'promote' && words.includes('production'),
    code: 1,
    why: 'the promotion policy holds a production promotion for a prompt owner (exit 1, recorded)',
  },
  {
    match: (words) => words[0] === 'prompts' && words[1] === 'rollback',
    code: 2,
    why: 'the label has pointed at one version only in a fresh home, so there is nothing to roll back to',
  },
];

describe('documented commands, run', () => {
  it('runs every documented factory command in a temporary home, with real ids for the placeholders', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'aif-docs-'));
    for (const folder of [
      'agents',
      'policies',
      'evals',
      'prompts',
      'models',
      'docs',
      'examples/knowledge-copilot',
      'examples/business-app/workspace',
      'examples/demo/workspace',
    ]) {
      if (existsSync(path.join(repositoryRoot, folder)))
        cpSync(path.join(repositoryRoot, folder), path.join(work, folder), { recursive: true });
    }
    cpSync(path.join(repositoryRoot, 'notifications.yaml'), path.join(work, 'notifications.yaml'));
    // The files the docs compare or propose: an old and a new version of a policy.
    for (const name of ['old.yaml', 'new.yaml', 'new-policy.yaml'])
      cpSync(path.join(repositoryRoot, 'policies/finance-ops/policy.yaml'), path.join(work, name));
    const saved = {
      cwd: process.cwd(),
      home: process.env.AIFACTORY_HOME,
      user: process.env.USER,
      wait: process.env.AIFACTORY_STORE_WAIT_MS,
      database: process.env.DATABASE_URL,
      schema: process.env.AIFACTORY_DB_SCHEMA,
    };
    process.chdir(work);
    process.env.AIFACTORY_HOME = path.join(work, '.factory');
    process.env.USER = 'tester';
    process.env.AIFACTORY_STORE_WAIT_MS = '0';
    // On Postgres when the tests have one (CI does): every command opens the store afresh, as a new
    // process would, and opening embedded PGlite costs a second or two each time, which made this the
    // slowest test by far. The commands are the same; docs/ shows both stores.
    const schema = `docs_${process.pid}_${Date.now().toString(36)}`;
    if (databaseUrl) {
      process.env.DATABASE_URL = databaseUrl;
      process.env.AIFACTORY_DB_SCHEMA = schema;
    }
    const ids = { run: '', approval: '', token: '', notification: '' };
    const program = () => buildProgram();
    const json = async (words: string[]) => {
      const result = await runProgram(await program(), [...words, '--json']);
      expect(result.exitCode, `${words.join(' ')}\n${result.stdout}${result.stderr}`).toBe(0);
      return JSON.parse(result.stdout) as Record<string, unknown>;
    };
    /** A run of the README's file-clerk flow, held at its write: a pending approval to show, approve or reject. */
    const heldRun = async () => {
      const held = await json(['run', 'file-clerk', '--input', 'Summarise invoice 1042', '--as', 'alice', '--role', 'clerk']);
      ids.run = String(held.runId);
      const approvals = (await json(['approvals', 'list', '--run', ids.run])) as { approvals: Array<{ id: string }> };
      ids.approval = approvals.approvals[0]!.id;
      const inbox = (await json(['notifications', 'list', '--run', ids.run])) as { notifications: Array<{ id: number }> };
      ids.notification = String(inbox.notifications[0]?.id ?? 1);
    };
    const ran: string[] = [];
    const skipped: string[] = [];
    const failures: string[] = [];
    try {
      await heldRun();
      // runs export --json with --output: a summary line instead of the sentence on stderr.
      const exported = await json(['runs', 'export', ids.run, '--output', 'held.jsonl']);
      expect(exported).toMatchObject({ output: 'held.jsonl', format: 'jsonl', signed: true });
      expect(exported.lines).toBeGreaterThan(2);
      for (const file of documents) {
        for (const { line, text } of documentedCommands(file)) {
          let words = runnableWords(text);
          const where = `${file}:${line}`;
          const long = longRunning.find((entry) => entry.match(words));
          if (long) {
            skipped.push(`${where} ${words.slice(0, 2).join(' ')}: ${long.why}`);
            continue;
          }
          // Each approve/reject needs a pending approval of its own.
          if (words[0] === 'approvals' && (words[1] === 'approve' || words[1] === 'reject')) await heldRun();
          if (words[0] === 'tokens' && (words[1] === 'rotate' || words[1] === 'revoke')) {
            const created = await json(['tokens', 'create', '--principal', 'docs@acme.example', '--role', 'operator']);
            ids.token = String(created.id);
          }
          words = words.map((word) =>
            word === '<run>' || word === '<run-id>' || /^run_\d+$/.test(word)
              ? ids.run
              : word === '<id>' || /^apr_[0-9a-f]{16}$/.test(word)
                ? ids.approval
                : /^tok_[0-9a-f]{12}$/.test(word)
                  ? ids.token
                  : word.startsWith('/path/to/current/')
                    ? `policies/${word.slice('/path/to/current/'.length)}`
                    : word,
          );
          if (words[0] === 'notifications' && words[1] === 'read') words = ['notifications', 'read', ids.notification];
          // A file an earlier line would have written: an export to verify offline.
          if (words.includes('--file') && !existsSync(words[words.indexOf('--file') + 1]!))
            await runProgram(await program(), ['runs', 'export', ids.run, '--output', words[words.indexOf('--file') + 1]!]);
          const result = await runProgram(await program(), words);
          // `> file` in the docs: the next lines read what this one wrote.
          const redirect = /\s>\s*(\S+)/.exec(text.replace(/\s+#\s.*$/, ''));
          if (redirect && result.exitCode === 0) writeFileSync(redirect[1]!, result.stdout);
          const expected = expectedExit.find((entry) => entry.match(words));
          const code = expected?.code ?? 0;
          ran.push(`${where} factory ${words.join(' ')} -> ${result.exitCode}`);
          if (result.exitCode !== code)
            failures.push(
              `${where}: factory ${words.join(' ')} exited ${result.exitCode}, expected ${code}${expected ? ` (${expected.why})` : ''}\n${(result.stdout + result.stderr).slice(0, 600)}`,
            );
          // Key output the text beside the command promises.
          if (code === 0 && result.exitCode === 0) {
            const output = result.stdout + result.stderr;
            const promise =
              words[0] === 'runs' && words[1] === 'verify'
                ? /intact/
                : words[0] === 'runs' && words[1] === 'replay' && !words.includes('--policy')
                  ? /identical/i
                  : words[0] === 'policy' && words[1] === 'explain'
                    ? /^notify_human|^autonomous|^require_approval|^deny/m
                    : undefined;
            if (promise && !promise.test(output))
              failures.push(`${where}: factory ${words.join(' ')} printed nothing matching ${String(promise)}\n${output.slice(0, 600)}`);
          }
        }
      }
    } finally {
      process.chdir(saved.cwd);
      if (databaseUrl) {
        const store = await openStore({ databaseUrl, schema, migrate: false });
        await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
        await store.close();
      }
      for (const [key, value] of [
        ['AIFACTORY_HOME', saved.home],
        ['USER', saved.user],
        ['AIFACTORY_STORE_WAIT_MS', saved.wait],
        ['DATABASE_URL', saved.database],
        ['AIFACTORY_DB_SCHEMA', saved.schema],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      rmSync(work, { recursive: true, force: true });
    }
    expect(failures, `ran:\n${ran.join('\n')}\nskipped:\n${skipped.join('\n')}`).toEqual([]);
    expect(ran.length).toBeGreaterThan(55);
  }, 900_000);

  it('policy schema --json prints the schema as one JSON document', async () => {
    const schema = await runProgram(await buildProgram('policy'), ['policy', 'schema', '--json']);
    expect(schema.exitCode).toBe(0);
    expect(JSON.parse(schema.stdout)).toMatchObject({ title: expect.stringContaining('aifactory') });
  });
});
