// Explain and search read only recorded events: a refund run (retrieval, a held refund approved,
// a result) and a small one, written through the real recorder on PGlite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import {
  createRecorder,
  explainRun,
  parseArgumentCondition,
  renderExplanationMarkdown,
  renderExplanationText,
  searchRuns,
} from '../src/index.ts';

const policy = { name: 'finance-ops', version: '3', hash: 'a'.repeat(64) };

function decided(step: number, name: string, args: Record<string, unknown>, authority: string, rules: unknown[], kind = 'tool') {
  return {
    type: 'policy.decided' as const,
    actor: 'control-plane',
    payload: {
      step,
      action: { kind, name, args, args_hash: 'b'.repeat(64) },
      decision: {
        authority,
        reason: `${name} is ${authority}.`,
        rules,
        policies: [policy],
        obligations: { notify: [], redact: [] },
        defaulted: rules.length === 0,
      },
    },
  };
}

describe('explain and search over recorded runs', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore();
    const recorder = createRecorder(store);
    await recorder.startRun({
      id: 'run-big',
      agent: 'refund-bot',
      principal: 'alice',
      metadata: { definition_hash: 'c'.repeat(64), policy_set_hash: 'd'.repeat(64) },
    });
    await recorder.recordBatch('run-big', [
      decided(1, 'handbook', { query: 'refund rules' }, 'autonomous', [], 'retrieval'),
      {
        type: 'retrieval.performed',
        actor: 'knowledge',
        payload: {
          step: 1,
          call_id: 'c1',
          chunks: [{ id: 'chunk-7', content_hash: 'e'.repeat(64), score: 0.9, source: 'handbook/refunds.md' }],
        },
      },
      decided(2, 'payments.refund', { order: 42, amount: 5200, currency: 'EUR' }, 'require_approval', [
        { policy: 'finance-ops', ruleId: 'large-refunds', authority: 'require_approval', values: { 'action.args.amount': 5200 } },
      ]),
      { type: 'run.held', actor: 'runtime', payload: { step: 2, approval_id: 'apr-1' } },
      { type: 'approval.voted', actor: 'bob', payload: { step: 2, approval_id: 'apr-1', approver: 'bob', vote: 'approve' } },
      { type: 'run.resumed', actor: 'runtime', payload: { step: 2, approval_id: 'apr-1', outcome: 'approved' } },
      { type: 'tool.called', actor: 'refund-bot', payload: { step: 2, name: 'payments.refund', args: { order: 42, amount: 5200 } } },
      { type: 'tool.returned', actor: 'payments.refund', payload: { step: 2, name: 'payments.refund', content: 'refund r-99 issued' } },
      decided(3, 'answer', { text: 'Refunded.' }, 'autonomous', [], 'answer'),
      { type: 'answer.given', actor: 'refund-bot', payload: { step: 3, text: 'Refunded 5200 EUR.' } },
    ]);
    await recorder.finishRun('run-big', { status: 'completed' });
    await recorder.startRun({ id: 'run-small', agent: 'refund-bot', principal: 'carol' });
    await recorder.recordBatch('run-small', [
      decided(1, 'payments.refund', { order: 7, amount: 80, currency: 'EUR' }, 'autonomous', [
        { policy: 'finance-ops', ruleId: 'small-refunds', authority: 'autonomous', values: { 'action.args.amount': 80 } },
      ]),
      decided(2, 'db.drop_table', { table: 'orders' }, 'deny', [
        { policy: 'finance-ops', ruleId: 'no-drops', authority: 'deny', values: {} },
      ]),
    ]);
    await recorder.finishRun('run-small', { status: 'completed' });
  });
  afterAll(async () => store?.close());

  it('explains each action: rule with the values its condition saw, policy hash, earlier data, approval and outcome', async () => {
    const explanation = await explainRun(store, 'run-big');
    expect(explanation.actions.map((action) => `${action.step}:${action.name}:${action.outcome.status}`)).toEqual([
      '1:handbook:succeeded',
      '2:payments.refund:succeeded',
      '3:answer:succeeded',
    ]);
    const refund = explanation.actions[1]!;
    expect(refund.rules[0]).toMatchObject({ policy: 'finance-ops', ruleId: 'large-refunds', values: { 'action.args.amount': 5200 } });
    expect(refund.policies[0]?.hash).toBe(policy.hash);
    expect(refund.influences).toEqual([
      {
        step: 1,
        kind: 'retrieval',
        name: 'knowledge',
        chunks: [{ id: 'chunk-7', source: 'handbook/refunds.md', contentHash: 'e'.repeat(64), score: 0.9 }],
      },
    ]);
    expect(refund.outcome.approval).toEqual({ id: 'apr-1', outcome: 'approved', approvers: ['bob (approve)'] });
    expect(explanation.actions[2]!.influences.map((influence) => influence.kind)).toEqual(['retrieval', 'tool_result']);
    const text = renderExplanationText(explanation);
    expect(text).toMatch(/rule finance-ops\/large-refunds -> require_approval with action\.args\.amount = 5200/);
    expect(text).toMatch(/factory runs replay run-big/);
    const markdown = renderExplanationMarkdown(explanation);
    expect(markdown).toMatch(/^# Run run-big/);
    expect(markdown).toMatch(/\| 2 \| tool `payments.refund` \| require_approval \| finance-ops\/large-refunds \| succeeded \|/);
  });

  it('explains one step, and names the step when there is none', async () => {
    const denied = await explainRun(store, 'run-small', { step: 2 });
    expect(denied.actions).toHaveLength(1);
    expect(denied.actions[0]!.outcome.status).toBe('denied');
    await expect(explainRun(store, 'run-small', { step: 9 })).rejects.toThrow(/no governed action at step 9/);
    await expect(explainRun(store, 'nope')).rejects.toThrow(/does not exist/);
  });

  it('finds refunds over 1,000 by a numeric condition, and filters by rule, authority, principal, text and time', async () => {
    const large = await searchRuns(store, { tool: 'payments.*', where: [parseArgumentCondition('amount>1,000')] });
    expect(large.map((hit) => `${hit.runId}:${hit.step}`)).toEqual(['run-big:2']);
    expect((await searchRuns(store, { rule: 'no-drops' })).map((hit) => hit.name)).toEqual(['db.drop_table']);
    expect((await searchRuns(store, { rule: 'finance-ops/small-refunds' })).map((hit) => hit.runId)).toEqual(['run-small']);
    expect((await searchRuns(store, { authority: 'require_approval' })).map((hit) => hit.args.amount)).toEqual([5200]);
    expect(
      (await searchRuns(store, { principal: 'carol', where: [parseArgumentCondition('currency=EUR')] })).map((hit) => hit.args.order),
    ).toEqual([7]);
    expect((await searchRuns(store, { text: 'ORDERS' })).map((hit) => hit.name)).toEqual(['db.drop_table']);
    expect(await searchRuns(store, { since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(() => parseArgumentCondition('amount >> 3')).toThrow(/not an argument condition/);
    await expect(searchRuns(store, { authority: 'maybe' })).rejects.toThrow(/Authority 'maybe' is unknown/);
  });
});
