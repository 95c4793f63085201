// The commands README.md and docs/*.md print, checked against the real `factory` program: every
// code fence is closed, every documented command exists with every option it is shown with, and
// the risk officer's commands (which need no store or server) run as printed and exit 0.
// Commands that need a run, an approval or a server are checked for their shape only (see the
// report: running them in a temporary home is not done yet).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../packages/cli/src/main.ts';
import { runProgram } from '../packages/cli/test/run-program.ts';
import { repositoryRoot } from '../examples/demo/demo-workspace.ts';

const documents = ['README.md', ...readdirSync(path.join(repositoryRoot, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

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
      const fences = readFileSync(path.join(repositoryRoot, file), 'utf8').split('\n').filter((line) => /^\s*```/.test(line));
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
          if (!known.has(flag) && flag !== '--help' && flag !== '-h') problems.push(`${file}:${line}: '${command.name()}' has no option ${flag} (${text})`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(30);
  }, 60_000);

  it("the README's risk-officer commands run as printed and exit 0", async () => {
    const lines = documentedCommands('README.md').filter(({ words }) => words[0] === 'policy' && ['lint', 'test', 'explain'].includes(words[1]!));
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
