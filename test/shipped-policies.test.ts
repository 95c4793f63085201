// Every policy the repository ships, through real runs: the policies are found by a glob (a new one
// is covered without touching this file), and each case in the tests/ folder beside a policy that a
// governed run can make — a tool call, a final answer, a hand-off, at the case's clock — is made by
// an agent of its own: a scripted model calls the case's action, the tools come from real MCP
// servers built from the tools.json beside the policy (or from the cases' tool names), a retrieval
// or a case whose context says the run has read classified data searches a knowledge collection
// ingested with those classifications (the knowledge package, offline embedder), a held call
// is approved by approvers with the roles the decision asks for and resumed. The recorded decision
// must be the case's; a denied tool must never reach its server, any other must. Every authority
// the policy can give is reached by at least one real run, or the table below says why not and
// which test runs it; every notify target the runs reach is delivered — Slack targets to a local
// server speaking Slack's incoming-webhook format, e-mail to a local SMTP server (smtp-server).
import { existsSync, globSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createKnowledgeBase } from '@aifactory/knowledge';
import { openStore } from '@aifactory/store';
import { parseToolSchemas, type ToolSchema } from '@aifactory/control';
import {
  createNotificationDispatcher,
  listNotifications,
  notificationTransports,
  parseNotificationChannels,
} from '@aifactory/execution/notifications';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { readRunEvents } from '@aifactory/verification';
import { startSlackWebhookServer } from '../packages/execution/test/notifications/slack-webhook-server.ts';
import { startSmtpPeer } from '../packages/execution/test/notifications/smtp-peer.ts';
import { splitToolName, startToolsJsonServers, type DeclaredTool } from './fixtures/tools-json-mcp-server.ts';

const repository = path.resolve(import.meta.dirname, '..');

/** Every AutonomyPolicy file the repository ships (tests' own fixtures aside). */
const shipped = globSync(['**/policy.yaml', '**/*.policy.yaml'], {
  cwd: repository,
  exclude: (name) => /(^|\/)(node_modules|test|tests|fixtures|\.factory)(\/|$)/.test(String(name)),
})
  .filter((file) => /^kind:\s*AutonomyPolicy\s*$/m.test(readFileSync(path.join(repository, file), 'utf8')))
  .sort();

type Authority = 'autonomous' | 'notify_human' | 'require_approval' | 'deny';

/**
 * Outcomes a governed agent run cannot give for a policy, each with the reason and the test that
 * makes the real run it needs instead. Any outcome not here must be reached below.
 */
const elsewhere: Record<string, string> = {
  'policies/gateway/policy.yaml:autonomous':
    'decides requests to the LLM gateway, not agent actions: packages/server/test/llm-gateway.test.ts sends them through factory serve',
  'policies/gateway/policy.yaml:deny': 'as above (packages/server/test/llm-gateway.test.ts)',
  'policies/prompt-promotion/policy.yaml:autonomous':
    'decides `factory prompts promote` with a recorded evaluation as `eval`: packages/cli/test/prompt-registry-commands.test.ts',
  'policies/prompt-promotion/policy.yaml:require_approval': 'as above (packages/cli/test/prompt-registry-commands.test.ts)',
  'policies/prompt-promotion/policy.yaml:deny': 'as above (packages/cli/test/prompt-registry-commands.test.ts)',
  'policies/model-registry/policy.yaml:autonomous':
    "decides model calls against models/*.yaml and the run's data classifications: test/model-registry.test.ts runs it",
  'policies/model-registry/policy.yaml:deny': 'as above (test/model-registry.test.ts)',
  'policies/model-registry/policy.yaml:notify_human':
    'as above: a run reads a pii knowledge collection, then calls a model cleared for pii hosted outside the EU (test/model-registry.test.ts)',
  'examples/knowledge-copilot/policy.yaml:autonomous':
    'decides retrievals over ingested, classified collections: examples/knowledge-copilot/knowledge-copilot.test.ts runs the example',
  'examples/knowledge-copilot/policy.yaml:deny': 'as above (examples/knowledge-copilot/knowledge-copilot.test.ts)',
  'examples/langchain-agent/policy.yaml:autonomous':
    "governs a LangChain agent's own tools (bare names, no MCP server): examples/langchain-agent/langchain-agent.test.ts runs it",
  'examples/langchain-agent/policy.yaml:require_approval': 'as above (examples/langchain-agent/langchain-agent.test.ts)',
  'examples/langchain-agent/policy.yaml:deny': 'as above (examples/langchain-agent/langchain-agent.test.ts)',
};

interface PolicyCase {
  file: string;
  name: string;
  expected: Authority;
  action: {
    kind: string;
    name: string;
    args?: Record<string, unknown>;
    agent?: { id: string; team?: string };
    principal?: { id: string; roles?: string[] };
  };
  context?: {
    now?: string;
    data?: { classifications?: string[]; collections?: Array<{ name: string; classifications: string[] }> };
    [key: string]: unknown;
  };
  expect?: { rules?: string[] };
}

/** The cases beside a policy (`tests/<authority>.yaml`). */
function casesOf(policyFile: string): PolicyCase[] {
  const folder = path.join(repository, path.dirname(policyFile), 'tests');
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .flatMap((name) =>
      ((parse(readFileSync(path.join(folder, name), 'utf8')) as { cases?: Array<Omit<PolicyCase, 'file' | 'expected'>> }).cases ?? []).map(
        (entry) => ({ ...entry, file: name, expected: name.replace(/\.yaml$/, '') as Authority }),
      ),
    );
}

/** Why a case cannot be made by a governed agent run, or undefined when it can. */
function unrunnable(entry: PolicyCase, tools: ToolSchema[]): string | undefined {
  if (!['tool', 'answer', 'handoff', 'retrieval'].includes(entry.action.kind)) return `a ${entry.action.kind} action`;
  // `now` is the run's clock; `data` is what the run reads from classified knowledge collections first.
  const extra = Object.keys(entry.context ?? {}).filter((key) => key !== 'now' && key !== 'data');
  if (extra.length > 0) return `context ${extra.join(', ')} (read elsewhere in a run)`;
  if (entry.action.kind === 'tool' && !entry.action.name.includes('.')) return 'a tool without a server';
  // The policy's fail-closed cases (an argument missing): in a run, the tool's own schema refuses the call first.
  const required =
    (tools.find((tool) => tool.name === entry.action.name)?.inputSchema as { required?: string[] } | undefined)?.required ?? [];
  const missing = required.filter((field) => !(field in (entry.action.args ?? {})));
  if (missing.length > 0) return `arguments without ${missing.join(', ')}, which the tool's schema requires`;
  return undefined;
}

/** Rules of run-here policies no runnable case reaches, and why. */
const unreachedRules: Record<string, string> = {};

/**
 * Notify targets no runnable case reaches, and why; every other target a policy names must be
 * delivered by the runs.
 */
const unreachedTargets: Record<string, string> = {};

interface PolicyDocument {
  spec: {
    default?: Authority | Record<string, Authority>;
    notify?: string[];
    rules?: Array<{ id: string; authority: Authority; notify?: string[] }>;
  };
}

function producible(document: PolicyDocument): Authority[] {
  const defaults = typeof document.spec.default === 'string' ? [document.spec.default] : Object.values(document.spec.default ?? {});
  return [...new Set([...defaults, ...(document.spec.rules ?? []).map((rule) => rule.authority)])].sort();
}

function namedTargets(document: PolicyDocument): string[] {
  return [...new Set([...(document.spec.notify ?? []), ...(document.spec.rules ?? []).flatMap((rule) => rule.notify ?? [])])].sort();
}

const slackChannels = [
  ...new Set(
    shipped.flatMap((file) =>
      namedTargets(parse(readFileSync(path.join(repository, file), 'utf8')) as PolicyDocument)
        .filter((target) => target.startsWith('slack:'))
        .map((target) => target.slice('slack:'.length)),
    ),
  ),
].sort();

describe('every shipped policy, in real runs', () => {
  let slack: Awaited<ReturnType<typeof startSlackWebhookServer>>;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  beforeAll(async () => {
    [slack, smtp] = await Promise.all([startSlackWebhookServer(slackChannels), startSmtpPeer('relay', 'relay-password-1c9e')]);
  });
  afterAll(async () => {
    await Promise.all([slack?.close(), smtp?.close()]);
  });

  it('finds the policies by glob: the policies folder, the examples and the judges', () => {
    expect(shipped).toEqual(
      expect.arrayContaining([
        'policies/finance-ops/policy.yaml',
        'policies/model-registry/policy.yaml',
        'policies/prompt-promotion/policy.yaml',
        'examples/knowledge-copilot/policy.yaml',
        'examples/business-app/workspace/policies/order-desk/policy.yaml',
        'evals/judges/answer-judge.policy.yaml',
      ]),
    );
    // Every entry of the table names a shipped policy, so a moved one cannot hide behind it.
    for (const key of Object.keys(elsewhere)) expect(shipped).toContain(key.slice(0, key.lastIndexOf(':')));
    // And the test each entry names exists.
    for (const [key, why] of Object.entries(elsewhere)) {
      const named = /([\w./-]+\.test\.ts)/.exec(why)?.[1];
      expect(named, `${key} names no test`).toBeDefined();
      expect(existsSync(path.join(repository, named!)), `${key}: ${named} does not exist`).toBe(true);
    }
  });

  it.each(shipped)(
    '%s: every outcome it can give is reached by a real run, and every notification is delivered',
    { timeout: 600_000 },
    async (policyFile) => {
      const document = parse(readFileSync(path.join(repository, policyFile), 'utf8')) as PolicyDocument;
      const policyPath = path.join(repository, policyFile);
      const cases = casesOf(policyFile);
      // The tools: tools.json beside the policy, else every tool its cases name (any arguments).
      const toolsFile = path.join(repository, path.dirname(policyFile), 'tools.json');
      const schemas = existsSync(toolsFile) ? parseToolSchemas(readFileSync(toolsFile, 'utf8'), toolsFile) : [];
      const runnable = cases.filter((entry) => unrunnable(entry, schemas) === undefined);
      // A policy nobody can run here is one the table explains, outcome by outcome.
      const outcomes = producible(document);
      const unreached = outcomes.filter((authority) => !runnable.some((entry) => entry.expected === authority));
      expect(
        unreached.filter((authority) => elsewhere[`${policyFile}:${authority}`] === undefined),
        `${policyFile}: outcomes no runnable case in tests/ reaches and no entry of the table explains`,
      ).toEqual([]);
      // A policy that decides something other than agents' actions (gateway requests, promotions) runs where the table says.
      if (runnable.length === 0 || outcomes.every((authority) => elsewhere[`${policyFile}:${authority}`] !== undefined)) return;

      const folder = mkdtempSync(path.join(tmpdir(), 'aif-shipped-policy-'));
      const agents = path.join(folder, 'agents');
      mkdirSync(path.join(agents, 'scripts'), { recursive: true });
      const declared: DeclaredTool[] = schemas.map((tool) => ({
        name: tool.name,
        inputSchema: tool.inputSchema as Record<string, unknown>,
      }));
      for (const entry of runnable)
        if (entry.action.kind === 'tool' && !declared.some((tool) => tool.name === entry.action.name))
          declared.push({ name: entry.action.name });
      const tools = await startToolsJsonServers(declared);

      // The knowledge a case's run reads: a retrieval searches the collection the case names; any
      // other case whose context says the run has read classified data first searches a collection
      // with those classifications. Each is ingested by the knowledge package (offline embedder).
      const readsOf = (entry: PolicyCase, index: number): { collection: string; classifications: string[] } | undefined => {
        const data = entry.context?.data;
        if (entry.action.kind === 'retrieval')
          return {
            collection: entry.action.name,
            classifications:
              data?.collections?.find((collection) => collection.name === entry.action.name)?.classifications ??
              data?.classifications ??
              [],
          };
        return data?.classifications ? { collection: `read-by-case-${index + 1}`, classifications: data.classifications } : undefined;
      };
      let now: Date | undefined;
      const store = await openStore();
      const knowledgeBase = createKnowledgeBase(store, { dataDir: path.join(folder, 'data') });
      try {
        const ingested = new Map<string, string>();
        for (const [index, entry] of runnable.entries()) {
          const reads = readsOf(entry, index);
          if (!reads) continue;
          const labels = JSON.stringify(reads.classifications);
          if (ingested.has(reads.collection)) {
            expect(ingested.get(reads.collection), `collection ${reads.collection} classified two ways`).toBe(labels);
            continue;
          }
          const source = path.join(folder, 'knowledge', reads.collection);
          mkdirSync(source, { recursive: true });
          writeFileSync(
            path.join(source, 'notes.md'),
            `# ${reads.collection}\n\nNotes (${reads.classifications.join(', ')}): ${String(entry.action.args?.query ?? 'customer notes')}.\n`,
          );
          const report = await knowledgeBase.ingest(source, { collection: reads.collection, classifications: reads.classifications });
          expect(report.added, `ingest of ${reads.collection}`).toBe(1);
          ingested.set(reads.collection, labels);
        }
      } finally {
        await knowledgeBase.close();
      }
      const workspace = await createWorkspaceRuntime({
        store,
        dataDir: path.join(folder, 'data'),
        agentsDir: agents,
        clock: () => now ?? new Date(),
      });
      const channels = parseNotificationChannels(
        `slack:\n${slackChannels.map((channel, index) => `  "${channel}": { webhook_url_env: SLACK_${index}_URL }\n`).join('')}email:\n  from: "aifactory <aifactory@acme.example>"\n  smtp_url_env: SMTP_URL\n  domains: [acme.example]\n`,
        'notifications.yaml',
      );
      const dispatcher = createNotificationDispatcher(store, {
        channels: notificationTransports(channels, {
          ...Object.fromEntries(slackChannels.map((channel, index) => [`SLACK_${index}_URL`, slack.urlOf(channel)])),
          SMTP_URL: smtp.url(),
        }),
        maxAttempts: 1,
      });
      const failures: string[] = [];
      const reached = new Set<Authority>();
      const rulesReached = new Set<string>();
      const notified = new Set<string>();
      const runIds: string[] = [];
      const queued: Awaited<ReturnType<typeof listNotifications>> = [];
      try {
        for (const [index, entry] of runnable.entries()) {
          const agentName = `case-${index + 1}`;
          const where = `${policyFile} tests/${entry.file} "${entry.name}"`;
          const action = entry.action;
          const team = action.agent?.team;
          const reads = readsOf(entry, index);
          const search = reads && {
            tool_calls: [
              { name: 'knowledge__search', args: { query: String(action.args?.query ?? 'notes'), collection: reads.collection } },
            ],
          };
          const call =
            action.kind === 'retrieval'
              ? [search!, { say: 'Done.' }]
              : action.kind === 'answer'
                ? [...(search ? [search] : []), { say: String(action.args?.text ?? '') }]
                : [
                    ...(search ? [search] : []),
                    {
                      tool_calls: [{ name: action.kind === 'handoff' ? `handoff__${action.name}` : action.name, args: action.args ?? {} }],
                    },
                    { say: 'Done.' },
                  ];
          const servers = action.kind === 'tool' ? [splitToolName(action.name).server] : [];
          writeFileSync(path.join(agents, 'scripts', `${agentName}.yaml`), JSON.stringify({ description: where, turns: call }));
          writeFileSync(
            path.join(agents, `${agentName}.yaml`),
            JSON.stringify({
              apiVersion: 'aifactory/v1',
              kind: 'Agent',
              metadata: { name: agentName, description: `Makes the case ${entry.name}.`, ...(team ? { team } : {}) },
              spec: {
                model: { id: `scripted:${agentName}`, script: `./scripts/${agentName}.yaml` },
                system_prompt: 'Make the call the case names.',
                tools: servers.map((server) => ({ server, url: tools.urlOf(server) })),
                ...(reads ? { knowledge: [{ collection: reads.collection, top_k: 2 }] } : {}),
                ...(action.kind === 'handoff' ? { handoffs: [action.name] } : {}),
                policies: [policyPath],
              },
            }),
          );
          if (action.kind === 'handoff') {
            // The agent handed to: it answers, under the same policy.
            writeFileSync(path.join(agents, 'scripts', `${action.name}.yaml`), JSON.stringify({ turns: [{ say: 'Taken care of.' }] }));
            writeFileSync(
              path.join(agents, `${action.name}.yaml`),
              JSON.stringify({
                apiVersion: 'aifactory/v1',
                kind: 'Agent',
                metadata: { name: action.name, description: 'Takes a handed-off task.' },
                spec: {
                  model: { id: `scripted:${action.name}`, script: `./scripts/${action.name}.yaml` },
                  system_prompt: 'Help.',
                  policies: [policyPath],
                },
              }),
            );
          }
          now = entry.context?.now ? new Date(entry.context.now) : undefined;
          const callsBefore = tools.calls.length;
          const principal = { id: action.principal?.id ?? 'requester@acme.example', roles: action.principal?.roles ?? [] };
          let result = await workspace.runtime.start(agentName, `Make the case: ${entry.name}`, { principal });
          runIds.push(result.runId);
          let votes = 0;
          while (result.status === 'held' && votes < 5) {
            const approval = await workspace.approvals.get(result.held.approvalId);
            // Approvers holding every role the requirement names, as many as it needs.
            const roles = approval.requirement.roles;
            for (let voter = 0; voter < approval.requirement.count && votes < 5; voter += 1, votes += 1) {
              const vote = await workspace.approvals.vote(result.held.approvalId, {
                approver: { id: `approver-${votes + 1}@acme.example`, roles },
                vote: 'approve',
              });
              if (vote.kind !== 'counted') break;
            }
            result = await workspace.runtime.resume(result.runId, { approvalId: result.held.approvalId });
          }
          if (result.status !== 'completed')
            failures.push(`${where}: the run ended ${result.status} (${JSON.stringify(result).slice(0, 300)})`);

          // The decision the run recorded for the case's action.
          const decisions: Array<{ authority: Authority; rules: string[]; notify: string[] }> = [];
          const searched: string[] = [];
          for await (const event of readRunEvents(store, result.runId)) {
            if (event.type === 'retrieval.performed' && event.payloadText !== null)
              searched.push(...(JSON.parse(event.payloadText) as { collections: string[] }).collections);
            if (event.type !== 'policy.decided' || event.payloadText === null) continue;
            const payload = JSON.parse(event.payloadText) as {
              action: { kind: string; name: string };
              decision: { authority: Authority; rules: Array<{ ruleId: string }>; obligations: { notify: string[] } };
            };
            if (payload.action.kind === action.kind && (action.kind === 'answer' || payload.action.name === action.name))
              decisions.push({
                authority: payload.decision.authority,
                rules: payload.decision.rules.map((rule) => rule.ruleId).sort(),
                notify: [...payload.decision.obligations.notify],
              });
          }
          const decision = decisions[0];
          if (!decision) {
            failures.push(`${where}: no decision recorded for ${action.kind} ${action.name}`);
            continue;
          }
          if (decision.authority !== entry.expected)
            failures.push(
              `${where}: decided ${decision.authority} (rules ${decision.rules.join(', ') || 'none'}), the case expects ${entry.expected}`,
            );
          if (entry.expect?.rules && JSON.stringify(decision.rules) !== JSON.stringify([...entry.expect.rules].sort()))
            failures.push(`${where}: rules ${decision.rules.join(', ')}, the case expects ${entry.expect.rules.join(', ')}`);
          reached.add(decision.authority);
          for (const rule of decision.rules) rulesReached.add(rule);
          for (const target of decision.notify) notified.add(target);
          if (action.kind === 'tool') {
            const ran = tools.calls.slice(callsBefore).filter((received) => received.name === action.name).length;
            const shouldRun = decision.authority === 'deny' ? 0 : 1;
            if (ran !== shouldRun) failures.push(`${where}: the tool ran ${ran} times after a ${decision.authority} decision`);
          }
          // A denied search reads nothing; any other search, and the read before another action, is performed.
          if (reads) {
            const ran = searched.filter((collection) => collection === reads.collection).length;
            const shouldRun = action.kind === 'retrieval' && decision.authority === 'deny' ? 0 : 1;
            if (ran !== shouldRun) failures.push(`${where}: ${reads.collection} was searched ${ran} times, expected ${shouldRun}`);
          }
        }
        now = undefined;
        await dispatcher.drainOnce();
        queued.push(...(await Promise.all(runIds.map((runId) => listNotifications(store, { runId, all: true })))).flat());
      } finally {
        await dispatcher.stop();
        await workspace.close();
        await store.close();
        await tools.close();
        rmSync(folder, { recursive: true, force: true });
      }
      expect(failures).toEqual([]);
      // Every outcome the policy can give was reached, or the table says where.
      for (const authority of outcomes)
        if (!reached.has(authority))
          expect(elsewhere[`${policyFile}:${authority}`], `${policyFile}: no run reached ${authority}`).toBeDefined();

      // Every rule decided at least one real action, or the table says why not.
      expect(
        (document.spec.rules ?? [])
          .map((rule) => rule.id)
          .filter((rule) => !rulesReached.has(rule) && unreachedRules[`${policyFile}:${rule}`] === undefined),
        `${policyFile}: rules no real run reached`,
      ).toEqual([]);

      // Every notification the runs queued was delivered: Slack and e-mail to the peers, inboxes kept.
      expect(
        queued
          .filter((notification) => notification.status !== 'delivered')
          .map((notification) => `${notification.target} ${notification.status}`),
      ).toEqual([]);
      for (const target of notified) {
        if (target.startsWith('slack:'))
          expect(
            slack.accepted.some(
              (message) => message.channel === target.slice(6) && runIds.some((runId) => message.body.text?.includes(runId)),
            ),
            `${policyFile}: ${target} got no message`,
          ).toBe(true);
        else if (target.includes('@') && !target.startsWith('webhook:'))
          expect(
            smtp.received.some(
              (mail) => mail.to.includes(target.replace(/^email:/, '')) && runIds.some((runId) => mail.raw.includes(runId)),
            ),
            `${policyFile}: ${target} got no e-mail`,
          ).toBe(true);
      }
      // The named external targets the runs did not reach are the ones only unrunnable cases reach.
      const missed = namedTargets(document).filter(
        (target) => !target.startsWith('inbox:') && !notified.has(target) && unreachedTargets[`${policyFile}:${target}`] === undefined,
      );
      expect(missed, `${policyFile}: notify targets no real run reached`).toEqual([]);
    },
  );
});
