import { describe, expect, it } from 'vitest';
import { runExample } from './knowledge-copilot.ts';

describe('knowledge copilot example', () => {
  it('ingests the handbook, denies the pii directory to the copilot by policy, and every scripted answer cites passages the search returns', async () => {
    const lines: string[] = [];
    const report = await runExample((line) => lines.push(line));
    expect(report.collections).toEqual([
      { name: 'company-handbook', classifications: ['internal'], embeddingModel: 'local:hashing-v1-384' },
      { name: 'people-directory', classifications: ['confidential', 'pii'], embeddingModel: 'local:hashing-v1-384' },
    ]);
    expect(report.decisions).toEqual({ 'company-handbook': 'autonomous', 'people-directory': 'deny' });
    expect(report.scenarios.map((scenario) => scenario.cited[0])).toEqual([
      expect.stringMatching(/^handbook\/leave-policy\.md › Leave policy › Parental leave \(lines \d+-\d+\)$/),
      'it/faq.jsonl (record vpn-token, line 1)',
      expect.stringMatching(/^handbook\/expenses\.md › Expenses › Equipment/),
      'handbook/travel-policy.pdf (page 1)',
      'it/security.html › IT security basics › Laptops',
    ]);
    expect(lines.join('\n')).toContain('Policy context: company-handbook [internal]; people-directory [confidential, pii].');
  });
});
