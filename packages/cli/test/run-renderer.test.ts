// The text renderer of `factory run` and the demo: streamed model text, one line per governed
// action, and the final answer printed once even though it was streamed before its decision.
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '@aifactory/execution';
import { createRunRenderer } from '../src/commands/run.ts';

const decided = (kind: string, name: string): RunEvent => ({
  type: 'action.decided',
  runId: 'r',
  step: 1,
  kind,
  name,
  args: {},
  authority: 'autonomous',
  rules: [],
  reason: 'ok',
});

describe('the run renderer', () => {
  it('prints a streamed answer once, though its decision comes between the stream and the answer', () => {
    let out = '';
    const render = createRunRenderer((text) => (out += text));
    for (const word of ['The ', 'folder ', 'holds\n\n', 'two files.']) render({ type: 'token', runId: 'r', text: word });
    render(decided('answer', 'answer'));
    render({ type: 'answer', runId: 'r', text: 'The folder holds\n\ntwo files.' });
    render({ type: 'run.completed', runId: 'r', answer: 'The folder holds\n\ntwo files.' });
    expect(out.match(/two files\./g)).toHaveLength(1);
  });

  it('prints an answer that was not streamed', () => {
    let out = '';
    const render = createRunRenderer((text) => (out += text));
    render({ type: 'token', runId: 'r', text: 'Looking.' });
    render(decided('tool', 'fs.list_directory'));
    render({ type: 'answer', runId: 'r', text: 'Two files.' });
    expect(out).toContain('Two files.');
  });
});
