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

  it('stays the definition as a conversation grows, branches and changes its system message, each request a new array of the same message objects', () => {
    const definition = (candidate: { model: string; messages: object[]; tools: object[] }) =>
      contentHash({
        model: candidate.model,
        parameters: null,
        tools: contentHash(candidate.tools),
        messages: candidate.messages.map((item) => contentHash(item)),
      });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(message, { minLength: 0, maxLength: 3 }), fc.nat(), fc.constantFrom('same', 'new object', 'new text')), {
          minLength: 1,
          maxLength: 12,
        }),
        (turns) => {
          const tools = [{ name: 'echo', description: 'Echoes.', inputSchema: { type: 'object' } }];
          let system = { role: 'system', content: 'Be brief.' };
          const conversation: object[] = [];
          for (const [added, back, change] of turns) {
            if (change === 'new object') system = { ...system };
            if (change === 'new text') system = { role: 'system', content: `${system.content}!` };
            // Now and then the conversation goes back a few messages (a branch), then grows again.
            if (back % 4 === 0) conversation.splice(Math.max(0, conversation.length - (back % 3)));
            conversation.push(...added);
            const candidate = { model: 'scripted:bench', messages: [system, ...conversation], tools };
            expect(requestHash(candidate as never)).toBe(definition(candidate));
            // Asked again, the same request hashes the same.
            expect(requestHash({ ...candidate, messages: [...candidate.messages] } as never)).toBe(definition(candidate));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not take one conversation for another that ends in the same message object', () => {
    const system = { role: 'system', content: 'Be brief.' };
    const shared = { role: 'user', content: 'Go on.' };
    const first = [system, { role: 'user', content: 'a' }, shared];
    const second = [system, { role: 'user', content: 'b' }, shared];
    const tools: never[] = [];
    const hash = (messages: object[]) => requestHash({ model: 'scripted:bench', messages, tools } as never);
    const definition = (messages: object[]) =>
      contentHash({
        model: 'scripted:bench',
        parameters: null,
        tools: contentHash(tools),
        messages: messages.map((item) => contentHash(item)),
      });
    expect(hash([...first, { role: 'user', content: 'more' }])).toBe(definition([...first, { role: 'user', content: 'more' }]));
    expect(hash(first)).toBe(definition(first));
    expect(hash(second)).toBe(definition(second));
    expect(hash(second)).not.toBe(hash(first));
  });
});
