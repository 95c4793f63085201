// The scripted provider: plays YAML scripts statelessly, so a run resumed elsewhere continues.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AiFactoryError } from '@aifactory/core';
import { UserError } from '@aifactory/core';
import { describe, expect, it } from 'vitest';
import { createModelGateway, parseScript } from '../../src/models/index.ts';
import type { ChatMessage, ModelRequest, ModelResponse } from '../../src/models/index.ts';
import { ScriptedModel, UnexpectedModelCallError } from '../../src/testing/index.ts';

const demoYaml = `description: Lists a folder, then reports.
turns:
  - say: Looking up the folder.
    tool_calls:
      - name: fs.list_directory
        args: { path: "." }
  - say: "Done: {{last_tool_result}}"
`;
const listTool = {
  name: 'fs__list_directory',
  description: 'List a directory.',
  inputSchema: { type: 'object', properties: { path: { type: 'string' } } },
};
const gatewayModule = fileURLToPath(new URL('../../src/models/index.ts', import.meta.url));

function assistantOf(response: ModelResponse): ChatMessage {
  return { role: 'assistant', content: response.content, toolCalls: response.toolCalls };
}

async function errorOf(promise: Promise<unknown>): Promise<AiFactoryError> {
  return promise.then(
    () => expect.fail('expected the call to fail'),
    (error: unknown) => error as AiFactoryError,
  );
}

describe('scripted provider', () => {
  const script = parseScript(demoYaml, 'agents/demo.script.yaml');
  const start: ChatMessage[] = [
    { role: 'system', content: 'You are a file assistant.' },
    { role: 'user', content: 'What is in this folder?' },
  ];

  it('plays a tool call, then an answer templated from the tool result', async () => {
    const gateway = createModelGateway({ scripts: { demo: script } });
    const first = await gateway.call({ model: 'scripted:demo', messages: start, tools: [listTool] });
    expect(first).toMatchObject({
      provider: 'scripted',
      model: 'demo',
      content: 'Looking up the folder.',
      finishReason: 'tool_calls',
      costUsd: 0,
      attempts: 1,
    });
    // The script names the tool as the agent does; the model is offered `fs__list_directory`.
    expect(first.toolCalls).toEqual([{ id: 'call_0_0', name: 'fs__list_directory', args: { path: '.' } }]);
    const second = await gateway.call({
      model: 'scripted:demo',
      messages: [...start, assistantOf(first), { role: 'tool', content: 'README.md, src/', toolCallId: 'call_0_0' }],
      tools: [listTool],
    });
    expect(second).toMatchObject({ content: 'Done: README.md, src/', toolCalls: [], finishReason: 'stop' });
  });

  it('estimates usage as characters / 4 at zero cost, unless the turn says otherwise', async () => {
    const gateway = createModelGateway({
      scripts: { demo: script, counted: parseScript('turns:\n  - say: hi\n    usage: { input_tokens: 7, output_tokens: 3 }\n') },
    });
    const response = await gateway.call({ model: 'scripted:demo', messages: [{ role: 'user', content: 'x'.repeat(400) }] });
    expect(response.usage.inputTokens).toBe(100);
    expect(response.usage.outputTokens).toBeGreaterThan(0);
    expect(response.costUsd).toBe(0);
    const counted = await gateway.call({ model: 'scripted:counted', messages: [{ role: 'user', content: 'hi' }] });
    expect(counted.usage).toEqual({ inputTokens: 7, outputTokens: 3 });
  });

  it('streams the scripted text word by word', async () => {
    const gateway = createModelGateway({ scripts: { demo: script } });
    const tokens: string[] = [];
    await gateway.call({ model: 'scripted:demo', messages: start }, { onToken: (text) => tokens.push(text) });
    expect(tokens).toEqual(['Looking ', 'up ', 'the ', 'folder.']);
  });

  it('is stateless: the same request always gets the same answer, from any gateway', async () => {
    const request: ModelRequest = { model: 'scripted:demo', messages: start, tools: [listTool] };
    const one = await createModelGateway({ scripts: { demo: script } }).call(request);
    const again = await createModelGateway({ scripts: { demo: script } }).call(request);
    expect(again.toolCalls).toEqual(one.toolCalls);
    expect(again.content).toBe(one.content);
  });

  it('resumes a checkpointed conversation in another process at the right turn', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'aifactory-script-'));
    try {
      await writeFile(join(directory, 'demo.yaml'), demoYaml);
      const gateway = createModelGateway({ scriptDirectory: directory });
      const first = await gateway.call({ model: 'scripted:demo', messages: start, tools: [listTool] });
      // What a checkpoint holds: the conversation as JSON.
      const checkpoint = JSON.stringify([
        ...start,
        assistantOf(first),
        { role: 'tool', content: 'a.txt', toolCallId: first.toolCalls[0]?.id },
      ]);
      const program = `
        const { createModelGateway } = await import(${JSON.stringify(gatewayModule)});
        const gateway = createModelGateway({ scriptDirectory: ${JSON.stringify(directory)} });
        const response = await gateway.call({ model: 'scripted:demo', messages: JSON.parse(process.argv[1]) });
        process.stdout.write(JSON.stringify(response));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '--eval', program, checkpoint], {
        timeout: 20_000,
      });
      expect(JSON.parse(stdout)).toMatchObject({ provider: 'scripted', content: 'Done: a.txt', toolCalls: [] });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('fails with UnexpectedModelCallError, pointing at the last turn, when the script runs out', async () => {
    const gateway = createModelGateway({ scripts: { demo: script } });
    const messages: ChatMessage[] = [
      ...start,
      { role: 'assistant', content: 'a' },
      { role: 'user', content: 'more' },
      { role: 'assistant', content: 'b' },
    ];
    const error = await errorOf(gateway.call({ model: 'scripted:demo', messages }));
    expect(error).toBeInstanceOf(UnexpectedModelCallError);
    expect(error).toBeInstanceOf(UserError);
    expect(error.code).toBe('MODEL_FAILED');
    expect(error.format()).toBe(
      "agents/demo.script.yaml:7:5: Scripted model 'demo' ran out of turns: it has 2 and this call follows 2 assistant messages.",
    );
  });

  it('chooses a scenario by the last user message and counts turns from it', async () => {
    const scenarios = parseScript(
      `scenarios:
  - when_user_contains: REFUND
    turns:
      - tool_calls: [{ name: payments.refund, args: { amount: 50, note: "{{last_user_message}}" } }]
      - say: Refunded.
  - when_user_matches: "^delete\\\\b"
    turns: [{ say: I will not delete anything. }]
  - turns: [{ say: "You said: {{last_user_message}}" }]
`,
      'support.yaml',
    );
    const gateway = createModelGateway({ scripts: { support: scenarios } });
    const ask = (messages: ChatMessage[]) => gateway.call({ model: 'scripted:support', messages });
    const greeting = await ask([{ role: 'user', content: 'hello' }]);
    expect(greeting.content).toBe('You said: hello');
    const conversation: ChatMessage[] = [
      { role: 'user', content: 'hello' },
      assistantOf(greeting),
      { role: 'user', content: 'Please refund my order' },
    ];
    const refund = await ask(conversation);
    expect(refund.toolCalls).toEqual([{ id: 'call_1_0', name: 'payments.refund', args: { amount: 50, note: 'Please refund my order' } }]);
    const done = await ask([...conversation, assistantOf(refund), { role: 'tool', content: 'ok', toolCallId: 'call_1_0' }]);
    expect(done.content).toBe('Refunded.');
    expect((await ask([{ role: 'user', content: 'delete everything' }])).content).toBe('I will not delete anything.');
  });

  it('fails when no scenario matches and there is no default', async () => {
    const gateway = createModelGateway({
      scripts: { narrow: parseScript('scenarios:\n  - when_user_contains: refund\n    turns: [{ say: ok }]\n') },
    });
    const error = await errorOf(gateway.call({ model: 'scripted:narrow', messages: [{ role: 'user', content: 'weather?' }] }));
    expect(error).toBeInstanceOf(UnexpectedModelCallError);
    expect(error.message).toBe(
      "Scripted model 'narrow' has no scenario for the user message 'weather?'; add one, or one without a condition as the default.",
    );
  });

  it('names the missing script, file or name', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'aifactory-script-'));
    try {
      const gateway = createModelGateway({ scriptDirectory: directory, scripts: { demo: script } });
      const missing = await errorOf(gateway.call({ model: 'scripted:absent', messages: start }));
      expect(missing.code).toBe('NOT_FOUND');
      expect(missing.message).toBe(`Cannot read model script '${join(directory, 'absent.yaml')}': it does not exist.`);
      const escaping = await errorOf(gateway.call({ model: 'scripted:../etc/passwd', messages: start }));
      expect(escaping.message).toContain("No model script named '../etc/passwd'; known scripts: demo");
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('ScriptedModel plays its script whatever model is asked for and records the requests', async () => {
    const model = new ScriptedModel([{ toolCalls: [{ name: 'search', args: { q: '{{last_user_message}}' } }] }, { say: 'Found it.' }]);
    const first = await model.call({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'cats' }] });
    expect(first.toolCalls).toEqual([{ id: 'call_0_0', name: 'search', args: { q: 'cats' } }]);
    const second = await model.call({
      model: 'openai:gpt-4o',
      messages: [{ role: 'user', content: 'cats' }, assistantOf(first), { role: 'tool', content: '1 hit', toolCallId: 'call_0_0' }],
    });
    expect(second.content).toBe('Found it.');
    expect(model.requests.map((request) => request.model)).toEqual(['openai:gpt-4o', 'openai:gpt-4o']);
    await expect(
      model.call({
        model: 'x:y',
        messages: [
          { role: 'assistant', content: '' },
          { role: 'assistant', content: '' },
        ],
      }),
    ).rejects.toBeInstanceOf(UnexpectedModelCallError);
  });
});

describe('parseScript', () => {
  const failure = (text: string): string => {
    try {
      parseScript(text, 'bad.yaml');
    } catch (error) {
      expect(error).toBeInstanceOf(UserError);
      return (error as AiFactoryError).format();
    }
    return expect.fail('expected a parse error');
  };

  it('names file, line and column of an unknown key', () => {
    expect(failure('turns:\n  - say: hi\n    tool_calls:\n      - name: x\n        argz: {}\n')).toBe(
      "bad.yaml:5:9: turns[0].tool_calls[0].argz: Unknown key 'argz'; expected one of: name, args, id.",
    );
  });

  it('names a value of the wrong type', () => {
    expect(failure('turns:\n  - say: [not, text]\n')).toBe('bad.yaml:2:10: turns[0].say: turns[0].say must be a string.');
    expect(failure('turns:\n  - say: ok\n    usage: { input_tokens: -1 }\n')).toBe(
      'bad.yaml:3:28: turns[0].usage.input_tokens: turns[0].usage.input_tokens must be a non-negative integer.',
    );
  });

  it('names a YAML syntax error', () => {
    expect(failure('turns:\n  - say: "unterminated\n')).toBe('bad.yaml:3:1: Model script is not valid YAML: Missing closing "quote');
    expect(failure('turns:\n  - say: [a, b\n  - say: c\n')).toBe(
      'bad.yaml:3:3: Model script is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    );
    expect(failure('turns:\n  - say: a\n    say: b\n')).toMatch(/^bad\.yaml:3:5: Model script is not valid YAML: Map keys must be unique/);
  });

  it('reads leniently, as it always did: a YAML warning or a comment glued to a value is no error', () => {
    const script = parseScript('turns:\n  - say: !note hi\n  - say: "bye"#last\n', 'lenient.yaml');
    expect(script.turns?.map((turn) => turn.say)).toEqual(['hi', 'bye']);
  });

  it('rejects unknown template variables, invalid regular expressions and turns that both fail and answer', () => {
    expect(failure('turns:\n  - say: "{{last_tool_resutl}}"\n')).toBe(
      "bad.yaml:2:10: turns[0].say: Unknown template variable '{{last_tool_resutl}}'; available: last_tool_result, last_user_message.",
    );
    expect(failure('scenarios:\n  - when_user_matches: "(("\n    turns: [{ say: x }]\n')).toMatch(
      /^bad\.yaml:2:24: scenarios\[0\]\.when_user_matches: scenarios\[0\]\.when_user_matches is not a valid regular expression: /,
    );
    expect(failure('turns:\n  - say: hi\n    error: down\n')).toBe(
      'bad.yaml:3:5: turns[0].error: turns[0] has `error` and an answer; a turn either fails or answers.',
    );
  });

  it('requires turns or scenarios, not both and not neither, and non-empty turns', () => {
    expect(failure('description: nothing\n')).toBe('bad.yaml:1:1: A model script needs `turns` or `scenarios`.');
    expect(failure('turns: []\n')).toBe('bad.yaml:1:8: turns: turns must be a non-empty list of turns.');
    expect(failure('turns: [{ say: a }]\nscenarios: [{ turns: [{ say: b }] }]\n')).toBe(
      'bad.yaml:2:1: scenarios: A model script has either `turns` or `scenarios`, not both.',
    );
    expect(failure('turns:\n  - finish_reason: stop\n')).toBe('bad.yaml:2:5: turns[0]: turns[0] needs `say`, `tool_calls` or `error`.');
  });
});
