// An existing LangChain agent — `createAgent` from the real `langchain` package, three tools, a
// checkpointer — governed by aifactory with ONE added line (marked below). The model is
// langchain's own scripted FakeToolCallingModel, so the example runs offline and deterministically.
//
// What happens: the agent looks an order up (allowed), tries to delete the customer (denied: the
// model is told why, the tool never runs), then refunds 250 (held: a LangGraph interrupt carries
// the approval id). A support lead approves; resuming the thread runs the refund exactly once. The
// run is sealed and verifies. Self-verifying: exits non-zero when any of that does not hold.
//
//   node examples/langchain-agent/langchain-agent.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { governance, type GovernanceInterrupt } from '@aifactory/langchain';
import { readRunEvents } from '@aifactory/verification';
import { openWorkspace, workspaceConfigAt, type Workspace } from '@aifactory/workspace';
import { Command, MemorySaver } from '@langchain/langgraph';
import { FakeToolCallingModel, createAgent, tool } from 'langchain';
import { z } from 'zod';

const here = path.dirname(fileURLToPath(import.meta.url));

/** What the example observed, for its own checks and for the test. */
export interface ExampleOutcome {
  runId: string;
  interrupt: GovernanceInterrupt;
  refunds: number[];
  deletions: number;
  answer: string;
  verified: boolean;
  events: string[];
}

/** Builds the support agent, governed, and drives it through a denial, a hold and an approval. */
export async function runExample(workspace: Workspace): Promise<ExampleOutcome> {
  const refunds: number[] = [];
  let deletions = 0;
  const lookupOrder = tool(async ({ orderId }) => `Order ${orderId}: 2 items, paid 250.00 EUR, delivered damaged.`, {
    name: 'lookup_order',
    description: 'Looks an order up.',
    schema: z.object({ orderId: z.string() }),
  });
  const refundOrder = tool(
    async ({ orderId, amount }) => {
      refunds.push(amount);
      return `Refunded ${amount} EUR on order ${orderId}.`;
    },
    { name: 'refund_order', description: 'Refunds an order.', schema: z.object({ orderId: z.string(), amount: z.number() }) },
  );
  const deleteCustomer = tool(
    async () => {
      deletions += 1;
      return 'deleted';
    },
    { name: 'delete_customer', description: 'Deletes a customer record.', schema: z.object({ customerId: z.string() }) },
  );
  const model = new FakeToolCallingModel({
    toolCalls: [
      [{ id: 'call_1', name: 'lookup_order', args: { orderId: 'A-1042' } }],
      [{ id: 'call_2', name: 'delete_customer', args: { customerId: 'C-7' } }],
      [{ id: 'call_3', name: 'refund_order', args: { orderId: 'A-1042', amount: 250 } }],
      [],
    ],
  });
  const governed = governance({
    workspace,
    policies: [path.join(here, 'policy.yaml')],
    agent: 'support-agent',
    principal: { id: 'support-app', roles: ['agent'] },
  });
  const agent = createAgent({
    model,
    tools: [lookupOrder, refundOrder, deleteCustomer],
    checkpointer: new MemorySaver(),
    middleware: [governed], // <- the one line that governs this agent
  });

  const config = { configurable: { thread_id: 'ticket-1042' } };
  const first = await agent.invoke(
    { messages: [{ role: 'user', content: 'Order A-1042 arrived damaged; refund it and close the customer account.' }] },
    config,
  );
  const interrupts = (first as { __interrupt__?: Array<{ value: GovernanceInterrupt }> }).__interrupt__ ?? [];
  const interrupt = interrupts[0]?.value;
  if (!interrupt || interrupt.kind !== 'aifactory.approval')
    throw new Error(`expected the refund to be held for approval, got ${JSON.stringify(first).slice(0, 300)}`);
  if (refunds.length !== 0) throw new Error('the held refund ran before its approval');

  // A support lead approves (the CLI, the HTTP API and the console do the same).
  await workspace.approvals.vote(interrupt.approvalId, {
    approver: { id: 'lena@example.com', roles: ['support-lead'] },
    vote: 'approve',
    comment: 'damaged on delivery',
  });
  const resumed = await agent.invoke(new Command({ resume: true }), config);
  const messages = (resumed as { messages: Array<{ content: unknown }> }).messages;
  const answer = String(messages.at(-1)?.content ?? '');
  const runId = governed.runId('ticket-1042');
  if (!runId) throw new Error('no governed run was recorded');
  const report = await workspace.verifyRun(runId);
  const events: string[] = [];
  for await (const event of readRunEvents(workspace.store, runId)) events.push(event.type);
  return { runId, interrupt, refunds, deletions, answer, verified: report.ok, events: events };
}

if (import.meta.main) {
  const home = mkdtempSync(path.join(tmpdir(), 'aifactory-langchain-example-'));
  const workspace = await openWorkspace(workspaceConfigAt(home));
  let code: number;
  try {
    const outcome = await runExample(workspace);
    const checks: Array<[string, boolean]> = [
      ['the refund was held with an approval id', /^apr_/.test(outcome.interrupt.approvalId)],
      ['the refund ran once, after approval', outcome.refunds.length === 1 && outcome.refunds[0] === 250],
      ['the denied deletion never ran', outcome.deletions === 0],
      ['the run is sealed and verifies', outcome.verified],
      [
        'the record holds decisions, the approval and the outcome',
        ['policy.decided', 'tool.called', 'approval.granted', 'approval.consumed', 'tool.returned', 'run.completed'].every((type) =>
          outcome.events.includes(type),
        ),
      ],
    ];
    for (const [what, ok] of checks) process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
    process.stdout.write(`run ${outcome.runId}: ${outcome.events.length} events\n`);
    code = checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    await workspace.close();
    rmSync(home, { recursive: true, force: true });
  }
  process.exitCode = code;
}
