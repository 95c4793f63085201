// Regenerates schema/autonomy-policy.schema.json from the zod schema (test/json-schema.test.ts
// fails when the shipped file is out of date). Run: pnpm --filter @aifactory/control schema
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { policyJsonSchemaText } from '../src/policy-schema.ts';

const target = fileURLToPath(new URL('../schema/autonomy-policy.schema.json', import.meta.url));
writeFileSync(target, policyJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
