import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentJsonSchema } from '../../src/agents/index.ts';

const repository = path.resolve(import.meta.dirname, '..', '..', '..', '..');
const schemaFile = path.join(repository, 'packages', 'execution', 'schema', 'agent.schema.json');

describe('the agent JSON Schema', () => {
  it('is up to date with the zod schema (regenerate with `pnpm vitest run packages/execution/test/agents -u`)', async () => {
    await expect(`${JSON.stringify(agentJsonSchema(), null, 2)}\n`).toMatchFileSnapshot(schemaFile);
  });

  it('accepts every example agent and refuses unknown keys, as editors will', async () => {
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(await readFile(schemaFile, 'utf8')) as object);
    const folder = path.join(repository, 'agents');
    const files = (await readdir(folder)).filter((name) => name.endsWith('.yaml'));
    expect(files).toEqual(expect.arrayContaining(['file-clerk.yaml', 'support-triage.yaml']));
    for (const file of files) {
      const document = parse(await readFile(path.join(folder, file), 'utf8')) as Record<string, unknown>;
      expect(validate(document), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(validate({ ...document, spec: { ...(document.spec as object), toolz: [] } })).toBe(false);
    }
  });
});
