// The hash a model request is recorded and replayed by must never change for the same request:
// replay compares it with what was recorded before. requestHash writes its canonical form
// directly, so it is held here to the definition, contentHash of {model, parameters, tools, messages}.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentHash } from '@aifactory/core';
import { requestHash } from '../../src/graph/request-hash.ts';

const message = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: fc.string({ unit: 'grapheme' }) }),
  fc.record({ role: fc.constant('tool'), toolCallId: fc.string(), name: fc.string(), content: fc.string() }),
);
const request = fc.record(
  {
    model: fc.oneof(fc.constantFrom('scripted:bench', 'openai:gpt-4o-mini', 'ollama:llama3.1:8b'), fc.string({ unit: 'grapheme' })),
    messages: fc.array(message, { maxLength: 8 }),
    tools: fc.array(fc.record({ name: fc.string(), description: fc.string(), inputSchema: fc.constant({ type: 'object' }) }), {
      maxLength: 3,
    }),
    parameters: fc.dictionary(fc.string(), fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.boolean())),
  },
  { requiredKeys: ['model', 'messages', 'tools'] },
);

describe('requestHash', () => {
  it('is contentHash of the model, the parameters, the hash of the tools and the hash of every message', () => {
    fc.assert(
      fc.property(request, (candidate) => {
        const expected = contentHash({
          model: candidate.model,
          parameters: candidate.parameters ?? null,
          tools: contentHash(candidate.tools),
          messages: candidate.messages.map((item) => contentHash(item)),
        });
        expect(requestHash(candidate as never)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});
