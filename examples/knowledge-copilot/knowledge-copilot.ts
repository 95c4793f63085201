// The knowledge copilot example, self-verifying: ingests a small company handbook (Markdown,
// HTML, PDF, JSONL, text) into `company-handbook` and a personal-data directory into
// `people-directory`, shows the policy context a governed retrieval gets and the control plane's
// decision on it (the copilot may search the handbook, not the pii directory), and checks the policy
// copilot's scripted answers (agents/scripts/policy-copilot.script.yaml): every cited source must
// be among the passages the agent's search returns, and every number in an answer must appear in
// the passage it cites. Exits non-zero on any failure.
//
//   node examples/knowledge-copilot/knowledge-copilot.ts
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePolicies, decide, loadPolicyFiles, type Authority } from '@aifactory/control';
import { createKnowledgeBase, type CollectionDescription, type SearchResult } from '@aifactory/knowledge';
import { minimalPdf } from '@aifactory/knowledge/testing';
import { openStore } from '@aifactory/store';
import { parse as parseYaml } from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const repository = path.resolve(here, '..', '..');

/** The travel policy PDF committed in docs/handbook, rebuilt from these lines (its bytes are checked against them). */
export function travelPolicyPdf(): Uint8Array {
  return minimalPdf(
    [
      [
        'Travel policy',
        'Book travel through the Acme travel desk at least 14 days ahead.',
        'Trains are preferred for trips under 600 km; book second class.',
        'Flights under six hours are booked in economy class.',
      ],
      [
        'Hotels',
        'Hotel nights are reimbursed up to 140 EUR in Berlin and 120 EUR elsewhere.',
        'Acme provides travel insurance for all business trips.',
      ],
    ],
    { title: 'Travel policy' },
  );
}

/** What one checked scenario showed. */
export interface ScenarioCheck {
  question: string;
  query: string;
  cited: string[];
  retrieved: string[];
}

/** What the example showed. */
export interface ExampleReport {
  collections: CollectionDescription[];
  /** The control plane's authority for a retrieval of each collection by the policy copilot. */
  decisions: Record<string, Authority>;
  scenarios: ScenarioCheck[];
  maskedInPeopleDirectory: Record<string, number>;
}

interface AgentFile {
  metadata: { name: string; team: string };
  spec: { knowledge: Array<{ collection: string; top_k: number }>; model: { script: string }; policies: string[] };
}

interface ScriptFile {
  scenarios: Array<{
    when_user_contains?: string;
    when_user_matches?: string;
    turns: Array<{ say?: string; tool_calls?: Array<{ name: string; args?: { query?: string } }> }>;
  }>;
}

/** Runs the example; throws on the first failed check. */
export async function runExample(log: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<ExampleReport> {
  assert.deepEqual(
    readFileSync(path.join(here, 'docs', 'handbook', 'travel-policy.pdf')),
    Buffer.from(travelPolicyPdf()),
    'docs/handbook/travel-policy.pdf differs from travelPolicyPdf(); regenerate it.',
  );
  const agentFile = path.join(repository, 'agents', 'policy-copilot.yaml');
  const agent = parseYaml(readFileSync(agentFile, 'utf8')) as AgentFile;
  const [knowledgeSpec] = agent.spec.knowledge;
  assert.ok(knowledgeSpec, 'the agent names a knowledge collection');
  const script = parseYaml(readFileSync(path.resolve(path.dirname(agentFile), agent.spec.model.script), 'utf8')) as ScriptFile;

  const dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-knowledge-copilot-'));
  const store = await openStore();
  const knowledge = createKnowledgeBase(store, { dataDir });
  try {
    const handbook = await knowledge.ingest(path.join(here, 'docs'), {
      collection: knowledgeSpec.collection,
      classifications: ['internal'],
      jsonl: { textField: 'answer', titleField: 'question' },
    });
    log(`Ingested ${handbook.added} documents (${handbook.chunks.added} chunks) into ${handbook.collection} in ${handbook.durationMs} ms.`);
    assert.equal(handbook.skipped, 0, `handbook files skipped: ${JSON.stringify(handbook.errors)}`);
    assert.equal(handbook.added, 6);

    const people = await knowledge.ingest(path.join(here, 'people'), {
      collection: 'people-directory',
      classifications: ['confidential'],
      piiMasking: true,
    });
    log(`Ingested the people directory with PII masked: ${JSON.stringify(people.masked)}.`);
    assert.deepEqual(people.masked, { email: 2, phone: 2 });
    const [contact] = await knowledge.search('people-directory', 'People Ops on call', { topK: 1 });
    assert.ok(contact && !/@acme\.example|1234 5678/.test(contact.content), 'masked values never reach the index');

    // What the execution plane's gate puts in the decision context (CEL `data.collections`).
    const collections = await knowledge.describeCollections([knowledgeSpec.collection, 'people-directory']);
    log(`Policy context: ${collections.map((collection) => `${collection.name} [${collection.classifications.join(', ')}]`).join('; ')}.`);
    assert.deepEqual(
      collections.map((collection) => collection.classifications),
      [['internal'], ['confidential', 'pii']],
    );

    // The control plane decides each retrieval with that context: the copilot's team may search
    // the handbook on its own; the pii directory is denied to it.
    const policies = compilePolicies(await loadPolicyFiles(agent.spec.policies.map((file) => path.resolve(path.dirname(agentFile), file))));
    const decisions: Record<string, Authority> = {};
    for (const collection of collections) {
      const decision = decide(
        policies,
        {
          kind: 'retrieval',
          name: collection.name,
          args: { query: 'example', collections: [collection.name] },
          agent: { id: agent.metadata.name, team: agent.metadata.team },
          principal: { id: 'employee@acme.example', roles: ['employee'] },
          run: { id: 'run_example', steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
        },
        {
          data: {
            classifications: collection.classifications,
            collections: [{ name: collection.name, classifications: collection.classifications }],
          },
        },
      );
      decisions[collection.name] = decision.authority;
      log(`Decision for ${agent.metadata.name} searching ${collection.name}: ${decision.authority} (${decision.reason})`);
    }
    assert.deepEqual(decisions, { [knowledgeSpec.collection]: 'autonomous', 'people-directory': 'deny' });

    const scenarios: ScenarioCheck[] = [];
    for (const scenario of script.scenarios) {
      const question = scenario.when_user_contains ?? scenario.when_user_matches;
      const query = scenario.turns.flatMap((turn) => turn.tool_calls ?? []).find((call) => call.name === 'knowledge.search')?.args?.query;
      const answer = scenario.turns.map((turn) => turn.say ?? '').find((say) => say.includes('Sources:'));
      if (!question || !query || !answer) continue; // the default scenario cites whatever the search returns
      const results = await knowledge.search(knowledgeSpec.collection, query, { topK: knowledgeSpec.top_k });
      const check = checkAnswer(answer, results);
      scenarios.push({ question, query, cited: check.cited, retrieved: results.map((result) => result.citation.text) });
      log(`\nQ (${question}): search "${query}"`);
      for (const [position, result] of results.entries())
        log(`  [${position + 1}] ${result.citation.text}  score ${result.score.toFixed(3)}`);
      log(`A: ${answer.split('\n')[0]}`);
    }
    assert.equal(scenarios.length, 5, 'every scripted scenario with citations was checked');
    return { collections, decisions, scenarios, maskedInPeopleDirectory: people.masked as Record<string, number> };
  } finally {
    await knowledge.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Checks an answer's "Sources:" block against retrieved passages, and its numbers against what it cites. */
function checkAnswer(answer: string, results: SearchResult[]): { cited: string[] } {
  const [body, sources] = answer.split('Sources:');
  assert.ok(body && sources, 'an answer ends with a Sources: block');
  const cited = new Map<number, SearchResult>();
  for (const line of sources
    .split('\n')
    .map((entry) => entry.trim())
    .filter(Boolean)) {
    const match = /^\[(\d+)\] (.+)$/.exec(line);
    assert.ok(match, `source line '${line}' reads [n] <source>`);
    // The cited text is the citation up to its location in parentheses, which an answer may leave out.
    const result = results.find((candidate) => candidate.citation.text === match[2] || candidate.citation.text.startsWith(`${match[2]} (`));
    assert.ok(
      result,
      `cited source '${match[2]}' is not among the retrieved passages: ${results.map((candidate) => candidate.citation.text).join(' | ')}`,
    );
    cited.set(Number(match[1]), result);
  }
  // Every number stated in a sentence must be in the passage that sentence cites.
  for (const sentence of body.split(/(?<=[.!?])\s+/)) {
    const references = [...sentence.matchAll(/\[(\d+)\]/g)].map((reference) => Number(reference[1]));
    if (references.length === 0) continue;
    const numbers = sentence.replace(/\[\d+\]/g, '').match(/\d+/g) ?? [];
    for (const number of numbers) {
      assert.ok(
        references.some((reference) => cited.get(reference)?.content.includes(number)),
        `'${number}' in "${sentence.trim()}" is not in the passage it cites`,
      );
    }
  }
  return { cited: [...cited.values()].map((result) => result.citation.text) };
}

if (import.meta.main) {
  runExample()
    .then(() => process.stdout.write('\nknowledge-copilot example: all checks passed\n'))
    .catch((error: unknown) => {
      process.stderr.write(`knowledge-copilot example failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
