// Governance started ahead is an optional decorator: the same scripted agent, with and without it,
// takes the same governed actions, records the same trace in the same order and ends the same.
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySaver } from '@langchain/langgraph';
import { compilePolicies, parsePolicy } from '@aifactory/control';
import { GovernanceGate, type EventDraft } from '../../src/governance/gate.ts';
import { createAgentGraph } from '../../src/graph/agent-graph.ts';
import { createToolbox } from '../../src/toolbox/toolbox.ts';
import { ToolHost } from '../../src/tools/index.ts';
import { ScriptedModel } from '../../src/testing/index.ts';
import { everythingServer } from '../tools/mcp-servers.ts';

const policy = parsePolicy(
  `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: ahead, version: 1 }
spec:
  default: deny
  rules:
    - id: echo
      match: { kind: tool, name: everything.echo }
      when: action.args.message != "forbidden"
      authority: autonomous
    - id: models
      match: { kind: model, name: "scripted:*" }
      authority: autonomous
    - id: answers
      match: { kind: answer }
      authority: autonomous
`,
  'policy.yaml',
);

const hosts: ToolHost[] = [];
afterAll(async () => {
  for (const host of hosts) await host.close();
});

async function run(governAhead: boolean): Promise<{ status: string; answer: string | null; trace: string[] }> {
  const host = await ToolHost.connect([everythingServer({ allow: ['echo'] })]);
  hosts.push(host);
  const recorded: EventDraft[] = [];
  const gate = new GovernanceGate({
    policies: () => compilePolicies([policy]),
    recorder: { recordBatch: async (_runId, events) => void recorded.push(...events) },
  });
  const model = new ScriptedModel([
    {
      toolCalls: [
        { name: 'everything.echo', args: { message: 'one' } },
        { name: 'everything.echo', args: { message: 'forbidden' } },
      ],
    },
    { toolCalls: [{ name: 'everything.echo', args: { message: 'two' } }] },
    { say: 'Done.' },
  ]);
  const graph = createAgentGraph({
    agent: { id: 'ahead-agent', model: 'scripted:ahead', systemPrompt: 'Echo.' },
    gate,
    models: model,
    toolbox: createToolbox({ host }),
    checkpointer: new MemorySaver(),
    markHeld: async () => {},
    emit: () => {},
    governAhead,
  });
  const state = await graph.invoke(
    {
      runId: `run_${governAhead}`,
      principal: { id: 'tester', roles: [] },
      startedAtMs: Date.now(),
      messages: [{ role: 'user', content: 'go' }],
    },
    { configurable: { thread_id: `t_${governAhead}` } },
  );
  await gate.flush(`run_${governAhead}`);
  const trace = recorded.map((event) => {
    const payload = event.payload as { step?: number; decision?: { authority?: string }; action?: { name?: string } };
    return `${payload.step}:${event.type}${payload.decision ? `:${payload.action?.name}:${payload.decision.authority}` : ''}`;
  });
  return { status: state.status, answer: state.answer, trace };
}

describe('governance started ahead', () => {
  it('is optional: with and without it a run takes the same decisions and records the same trace in the same order', async () => {
    const withAhead = await run(true);
    const without = await run(false);
    expect(withAhead.status).toBe('completed');
    expect(withAhead.answer).toBe('Done.');
    expect(without).toEqual(withAhead);
    // The denied echo is recorded as decided and never called.
    expect(withAhead.trace.filter((line) => line.includes('everything.echo:deny'))).toHaveLength(1);
    expect(withAhead.trace.filter((line) => line.endsWith(':tool.called'))).toHaveLength(2);
  });
});
