// The harness that proves the example policies in policies/ hold: every folder lints without
// findings (against its tools.json when it has one) and every case in its tests/ passes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { lintPolicyFiles, parseToolSchemas, runPolicyTests } from '../src/index.ts';

const root = fileURLToPath(new URL('../../../policies/', import.meta.url));
const folders = readdirSync(root, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

async function lint(directory: string) {
  const toolsFile = join(directory, 'tools.json');
  const tools = existsSync(toolsFile) ? parseToolSchemas(readFileSync(toolsFile, 'utf8'), toolsFile) : undefined;
  return lintPolicyFiles([directory], tools ? { tools } : {});
}

/** The authorities a folder's policy can decide: its defaults' and its rules'. */
function producible(directory: string): string[] {
  const policy = parse(readFileSync(join(directory, 'policy.yaml'), 'utf8')) as {
    spec: { default?: Record<string, string>; rules?: Array<{ authority: string }> };
  };
  return [...new Set([...Object.values(policy.spec.default ?? {}), ...(policy.spec.rules ?? []).map((rule) => rule.authority)])].sort();
}

describe('example policies', () => {
  const risk = ['finance-ops', 'customer-support', 'data-access'];

  it('include finance operations, customer support and data access, each without a single lint warning and with at least ten cases', async () => {
    expect(folders).toEqual(expect.arrayContaining(risk));
    for (const folder of risk) {
      expect((await lint(join(root, folder))).findings).toEqual([]);
      expect((await runPolicyTests(join(root, folder))).total).toBeGreaterThanOrEqual(10);
    }
  });

  describe.each(folders)('%s', (folder) => {
    const directory = join(root, folder);

    it('lints without errors, conditions type-checked against its tools', async () => {
      const report = await lint(directory);
      expect(report.files.length).toBeGreaterThan(0);
      expect(report.findings.filter((finding) => finding.severity === 'error')).toEqual([]);
    });

    it('passes every case, with cases for every outcome it can produce', async () => {
      const report = await runPolicyTests(directory);
      const failures = report.suites.flatMap((suite) =>
        suite.results
          .filter((result) => !result.passed)
          .map((result) => `${result.file}:${result.line} ${result.name}: ${result.failures.join('; ')}`),
      );
      expect(failures).toEqual([]);
      expect(report.total).toBeGreaterThan(0);
      const outcomes = new Set(report.suites.flatMap((suite) => suite.results.map((result) => result.expected)));
      expect([...outcomes].sort()).toEqual(producible(directory));
    });
  });
});
