// The recorder takes the hot payloads without zod when acceptsFast says yes. That is safe only if
// every yes is a yes of the schema too; and it is worth it only if the runtime's own payloads get it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventPayloadSchemas } from '../src/event-types.ts';
import { acceptsFast, fastCheckedTypes } from '../src/payload-fast-check.ts';

const hash = 'a'.repeat(64);
/** What a governed step records, as the runtime writes it. */
const runtimePayloads = {
  'run.started': {
    agent: 'courier',
    team: 'ops',
    principal: 'bench@acme.example',
    input: { text: 'k-1' },
    // A replay's start, and a hand-off's child, name the run they came from.
    replay_of: 'run_before',
    parent_run_id: null,
    metadata: {
      agent_file: '/agents/courier.yaml',
      definition_hash: hash,
      prompt_hash: hash,
      model: 'scripted:courier',
      principal_roles: ['operator'],
      policies: [{ name: 'courier', version: 1, hash }],
      trace: { trace_id: 'b'.repeat(32), parent_span_id: 'c'.repeat(16) },
    },
  },
  'policy.decided': {
    step: 1,
    action: { kind: 'tool', name: 'echo.echo', args: { text: 'step 0' }, args_hash: hash },
    decision: {
      authority: 'autonomous',
      rules: [{ policy: 'bench', ruleId: 'echo', authority: 'autonomous', values: {} }],
      skipped: [],
      policies: [{ name: 'bench', version: '1', hash }],
      obligations: { notify: [], redact: [] },
      reason: 'Allowed.',
      defaulted: false,
    },
  },
  'model.requested': { step: 1, provider: 'scripted', model: 'bench', message_count: 2, tools: ['echo__echo'], request_hash: hash },
  'model.responded': {
    step: 1,
    provider: 'scripted',
    model: 'bench',
    content: '',
    tool_calls: [{ id: 'call_0', name: 'echo__echo', args: { text: 'x' } }],
    usage: { inputTokens: 41, outputTokens: 9 },
    cost_usd: 0,
    finish_reason: 'tool_calls',
    latency_ms: 15,
    attempts: 1,
    fallback_used: false,
  },
  'model.failed': { step: 3, error: 'The provider answered 500.' },
  'tool.called': { step: 2, call_id: 'call_0', kind: 'tool', name: 'echo.echo', args: { text: 'step 0' } },
  'tool.returned': { step: 2, call_id: 'call_0', name: 'echo.echo', content: 'step 0', duration_ms: 74.5 },
  'tool.failed': { step: 2, call_id: 'call_0', name: 'echo.echo', error: { code: 'timeout', message: 'Too slow.' } },
  'answer.given': { step: 42, text: 'done' },
} as const;

/** Values near and far from what each field wants: right types, wrong types, edge numbers, odd objects. */
const anyValue = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    1.5,
    2 ** 53,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    'x',
    hash,
    hash.toUpperCase(),
    'autonomous',
    'deny',
    'maybe',
    null,
    undefined,
    true,
    [],
    {},
  ),
  fc.anything({
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    maxDepth: 2,
  }),
  fc.constant(Object.create({ inherited: 1 }) as unknown),
  fc.constant(Object.assign(Object.create(null) as object, { [Symbol('s')]: 1 }) as unknown),
  fc.constant({ constructor: 1 } as unknown),
);

/** A payload made from a runtime one by replacing, removing or adding fields, at the top and one level down. */
function mutated(base: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = [...Object.keys(base), 'extra'];
  const edit = fc.record({
    key: fc.constantFrom(...keys),
    inner: fc.option(
      fc.constantFrom(
        'args',
        'kind',
        'name',
        'args_hash',
        'authority',
        'rules',
        'reason',
        'inputTokens',
        'message',
        'code',
        'agent_file',
        'policies',
        'text',
        'extra',
      ),
      { nil: undefined },
    ),
    value: anyValue,
    remove: fc.boolean(),
  });
  return fc.oneof(
    anyValue,
    fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
      const copy = structuredClone(base);
      for (const { key, inner, value, remove } of edits) {
        const target =
          inner && copy[key] !== null && typeof copy[key] === 'object' && !Array.isArray(copy[key])
            ? (copy[key] as Record<string, unknown>)
            : copy;
        const field = target === copy ? key : inner!;
        if (remove) delete target[field];
        else target[field] = value;
      }
      return copy;
    }),
  );
}

describe('acceptsFast', () => {
  it('accepts only what the zod schema accepts, for any payload of any hot type', () => {
    for (const type of fastCheckedTypes) {
      const base = runtimePayloads[type as keyof typeof runtimePayloads] as Record<string, unknown>;
      fc.assert(
        fc.property(mutated(base), (payload) => {
          if (acceptsFast(type, payload)) expect(eventPayloadSchemas[type].safeParse(payload).success).toBe(true);
        }),
        { numRuns: 400 },
      );
    }
  });

  it('accepts the payloads the runtime records on every step, so they skip zod', () => {
    expect([...fastCheckedTypes].sort()).toEqual(Object.keys(runtimePayloads).sort());
    for (const [type, payload] of Object.entries(runtimePayloads)) {
      expect(eventPayloadSchemas[type as keyof typeof runtimePayloads].safeParse(payload).success).toBe(true);
      expect(acceptsFast(type as keyof typeof runtimePayloads, payload)).toBe(true);
    }
  });

  it('leaves every other type to zod', () => {
    expect(acceptsFast('run.held', { step: 1 })).toBe(false);
    expect(acceptsFast('approval.requested', { approval_id: 'a', step: 1 })).toBe(false);
  });
});
