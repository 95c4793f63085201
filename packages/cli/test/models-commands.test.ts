// `factory models list|show` over the shipped registry (models/*.yaml), in-process: the entries
// with what they are cleared for, one in full, and a clear error naming what is registered when a
// model is not — or naming file, line and column when a definition is wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerModelsCommands } from '../src/commands/models.ts';
import { runProgram } from './run-program.ts';

const registry = path.resolve(import.meta.dirname, '..', '..', '..', 'models');

async function factory(...args: string[]) {
  const program = new Command('factory').exitOverride();
  registerModelsCommands(program);
  return runProgram(program, ['models', ...args]);
}

describe('factory models', () => {
  it('lists the registered models with their version, owner and the data they are cleared for', async () => {
    const listed = await factory('list', '--models', registry, '--json');
    expect(listed.exitCode).toBe(0);
    const { models } = JSON.parse(listed.stdout) as {
      models: Array<{ id: string; version: string; classifications: string[]; residency: string[] }>;
    };
    expect(models.map((model) => model.id).sort()).toEqual(['anthropic:claude-sonnet-4-5', 'openai:gpt-4o-mini']);
    expect(models.find((model) => model.id === 'openai:gpt-4o-mini')).toMatchObject({
      version: '2024-07-18',
      classifications: ['public', 'internal'],
      residency: ['us', 'eu'],
    });
    const text = await factory('list', '--models', registry);
    expect(text.stdout).toMatch(/openai:gpt-4o-mini\s+2024-07-18\s+platform@acme\.example\s+cleared: public, internal/);
  });

  it('shows one model with its evaluations and limitations, and names the registered ones when asked for another', async () => {
    const shown = await factory('show', 'openai:gpt-4o-mini', '--models', registry);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain('passed  evals/policy-copilot.yaml  accuracy=1 grounded=0.9');
    expect(shown.stdout).toContain('- Not cleared for personal data (pii) or confidential plans.');
    const missing = await factory('show', 'openai:o3', '--models', registry);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("Model 'openai:o3' is not registered; registered: anthropic:claude-sonnet-4-5, openai:gpt-4o-mini.");
  });

  it('refuses a definition with a mistake, naming file, line and column', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'aifactory-models-cli-'));
    try {
      writeFileSync(
        path.join(folder, 'bad.yaml'),
        'apiVersion: aifactory/v1\nkind: Model\nmetadata: { name: bad, owner: me }\nspec:\n  id: gpt-4o\n  version: "1"\n',
      );
      const result = await factory('list', '--models', folder);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(/bad\.yaml:5:\d+/);
      expect(result.stderr).toContain('provider:model');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
