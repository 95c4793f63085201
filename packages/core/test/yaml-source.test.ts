// How strictly definition files are read: policies and their kin stop at a YAML warning, the
// readers through parseYamlSource (agents, notification channels, model scripts) do not, as they
// never did, and model scripts tolerate what YAML 1.2 lets a lenient reader tolerate.
import { describe, expect, it } from 'vitest';
import { ErrorCode, UserError } from '../src/index.ts';
import { parseYamlSource, YamlSource } from '../src/yaml.ts';

describe('YamlSource', () => {
  it('makes a YAML warning a located problem by default (policies, models, prompts, eval suites)', () => {
    const source = new YamlSource('name: a\nowner: !custom team\n', 'policy.yaml');
    expect(source.value).toBeUndefined();
    expect(source.problems).toEqual([{ message: 'YAML: Unresolved tag: !custom.', location: { file: 'policy.yaml', line: 2, column: 8 } }]);
  });
});

describe('parseYamlSource', () => {
  it('reads a document with a YAML warning, listing the warning beside it', () => {
    const source = parseYamlSource('name: a\nowner: !custom team\n', 'agent.yaml', ErrorCode.AgentInvalid, 'Agent definition');
    expect(source.value).toEqual({ name: 'a', owner: 'team' });
    expect(source.warnings).toEqual([{ message: 'YAML: Unresolved tag: !custom.', location: { file: 'agent.yaml', line: 2, column: 8 } }]);
  });

  it('stops at a YAML error, naming file, line and column', () => {
    const error = (() => {
      try {
        parseYamlSource('a: [b\n', 'agent.yaml', ErrorCode.AgentInvalid, 'Agent definition');
        return undefined;
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).format()).toMatch(/^agent\.yaml:2:1: Agent definition is not valid YAML: /);
  });

  it('is strict unless told otherwise: a comment glued to a value is an error, and fine with strict: false', () => {
    expect(() => parseYamlSource('say: "hi"#note\n', 'a.yaml', ErrorCode.InputInvalid, 'Model script')).toThrow(
      /Comments must be separated from other tokens by white space characters/,
    );
    expect(parseYamlSource('say: "hi"#note\n', 'a.yaml', ErrorCode.InputInvalid, 'Model script', { strict: false }).value).toEqual({
      say: 'hi',
    });
  });
});
