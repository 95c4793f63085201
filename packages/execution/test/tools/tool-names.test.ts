import { describe, expect, it } from 'vitest';
import { ArgumentValidator } from '../../src/tools/argument-validator.ts';
import { compileAllowList, fromModelToolName, modelToolNamePattern, serverNameProblem, toModelToolName } from '../../src/tools/index.ts';

describe('model tool names', () => {
  it('maps <server>.<tool> to <server>__<tool> and back', () => {
    for (const name of ['fs.read_text_file', 'memory.create_entities', 'everything.get-sum', 'crm-api.find__customer']) {
      const modelName = toModelToolName(name);
      expect(modelName).toMatch(modelToolNamePattern);
      expect(fromModelToolName(modelName)).toBe(name);
    }
    expect(toModelToolName('fs.read_text_file')).toBe('fs__read_text_file');
  });

  it('gives tool names providers would reject a valid, distinct name that maps back through the list on offer', () => {
    const names = ['web.fetch/url', 'web.fetch.url', `db.${'x'.repeat(80)}`];
    const modelNames = names.map(toModelToolName);
    for (const modelName of modelNames) expect(modelName).toMatch(modelToolNamePattern);
    expect(new Set(modelNames).size).toBe(names.length);
    names.forEach((name, index) => expect(fromModelToolName(modelNames[index] as string, names)).toBe(name));
    expect(fromModelToolName('web__nothing', names)).toBeUndefined();
  });

  it('accepts server names without dots or underscores and refuses the runtime’s own prefixes', () => {
    expect(serverNameProblem('fs')).toBeUndefined();
    expect(serverNameProblem('crm-api')).toBeUndefined();
    expect(serverNameProblem('my_server')).toMatch(/invalid/);
    expect(serverNameProblem('a.b')).toMatch(/invalid/);
    expect(serverNameProblem('handoff')).toMatch(/reserved/);
    expect(serverNameProblem('Knowledge')).toMatch(/reserved/);
  });
});

describe('allow-lists', () => {
  it('matches globs over the whole tool name, dots and slashes included', () => {
    const allowList = compileAllowList(['read_*', 'list_directory', 'api.v?/*']);
    expect(allowList.allows('read_text_file')).toBe(true);
    expect(allowList.allows('list_directory')).toBe(true);
    expect(allowList.allows('list_directory_with_sizes')).toBe(false);
    expect(allowList.allows('api.v2/users')).toBe(true);
    expect(allowList.allows('apixv2/users')).toBe(false);
    expect(allowList.unmatched(['read_file'])).toEqual(['list_directory', 'api.v?/*']);
  });
});

describe('argument validation', () => {
  it('reads draft-07 and 2020-12 schemas in their own dialect', () => {
    const validator = new ArgumentValidator();
    const tuple2020 = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { point: { type: 'array', prefixItems: [{ type: 'number' }, { type: 'number' }], items: false } },
    };
    expect(validator.validate('t2020', tuple2020, { point: [1, 2] })).toEqual({ ok: true });
    expect(validator.validate('t2020', tuple2020, { point: [1, 'b'] })).toEqual({ ok: false, errors: ['args.point[1]: must be number'] });
    expect(validator.validate('t2020', tuple2020, { point: [1, 2, 3] })).toMatchObject({ ok: false });
    const draft7 = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { mode: { enum: ['a', 'b'] } },
      additionalProperties: false,
    };
    expect(validator.validate('t7', draft7, { mode: 'c', extra: 1 })).toEqual({
      ok: false,
      errors: ["args: must NOT have additional properties ('extra')", 'args.mode: must be equal to one of the allowed values: "a", "b"'],
    });
  });

  it('refuses every call to a tool whose schema cannot be compiled', () => {
    const validator = new ArgumentValidator();
    const broken = { type: 'object', properties: { path: { type: 'no-such-type' } } };
    const result = validator.validate('broken', broken, { path: 'x' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]).toMatch(/^the tool's input schema cannot be used, so no call is accepted/);
  });

  it('checks each tool host’s calls against the schema its server declares now, though compiled schemas are shared across hosts', () => {
    // A worker connects to a server anew for every drive; the server may have changed its schema meanwhile.
    const before = { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] };
    const after = { type: 'object', properties: { path: { type: 'string' }, mode: { enum: ['r'] } }, required: ['path', 'mode'] };
    expect(new ArgumentValidator().validate('fs.read', before, { path: 'a' })).toEqual({ ok: true });
    expect(new ArgumentValidator().validate('fs.read', after, { path: 'a' })).toEqual({
      ok: false,
      errors: ["args: must have required property 'mode'"],
    });
    expect(new ArgumentValidator().validate('fs.read', before, { path: 'a' })).toEqual({ ok: true });
    expect(
      new ArgumentValidator().validate('fs.read', { $schema: 'https://json-schema.org/draft/2020-12/schema', ...before }, { path: 1 }),
    ).toEqual({
      ok: false,
      errors: ['args.path: must be string'],
    });
  });

  it('does not let two tools that share a schema $id see each other’s schema', () => {
    const validator = new ArgumentValidator();
    expect(validator.validate('a', { $id: 'https://example.com/args.json', type: 'object', required: ['a'] }, { a: 1 })).toEqual({
      ok: true,
    });
    expect(validator.validate('b', { $id: 'https://example.com/args.json', type: 'object', required: ['b'] }, { a: 1 })).toEqual({
      ok: false,
      errors: ["args: must have required property 'b'"],
    });
  });
});
