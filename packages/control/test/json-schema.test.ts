import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { policyJsonSchemaText } from '../src/index.ts';

const shipped = new URL('../schema/autonomy-policy.schema.json', import.meta.url);
const examples = ['finance-ops', 'customer-support', 'data-access'].map(
  (name) => new URL(`../../../policies/${name}/policy.yaml`, import.meta.url),
);

describe('the shipped JSON Schema', () => {
  it('is generated from the zod schema and up to date (regenerate: pnpm --filter @aifactory/control schema)', () => {
    expect(readFileSync(shipped, 'utf8')).toBe(policyJsonSchemaText());
  });

  it('accepts the example policies and names what is wrong in a broken one, as an editor would', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(shipped, 'utf8')) as object);
    for (const file of examples) {
      const text = readFileSync(file, 'utf8');
      expect(text.split('\n').find((line) => line.startsWith('# yaml-language-server: $schema='))).toBe(
        '# yaml-language-server: $schema=../../packages/control/schema/autonomy-policy.schema.json',
      );
      expect(validate(parseDocument(text).toJS()), JSON.stringify(validate.errors)).toBe(true);
    }
    const broken = parseDocument(readFileSync(examples[0]!, 'utf8')).toJS() as { spec: { rules: Array<Record<string, unknown>> } };
    broken.spec.rules[0]!.authority = 'allow';
    broken.spec.rules[1]!.whn = 'true';
    expect(validate(broken)).toBe(false);
    expect(validate.errors?.map((error) => `${error.instancePath} ${error.keyword}`)).toEqual(
      expect.arrayContaining(['/spec/rules/0/authority enum', '/spec/rules/1 additionalProperties']),
    );
  });
});
