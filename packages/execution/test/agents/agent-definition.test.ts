import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError, sha256Hex, type AiFactoryError } from '@aifactory/core';
import { findAgent, loadAgentDefinition, loadAgents, parseAgentDefinition } from '../../src/agents/index.ts';

let folder: string;

const minimal = (spec = '', metadata = ''): string =>
  `apiVersion: aifactory/v1
kind: Agent
metadata:
  name: helper
  description: Helps.
${metadata}spec:
  model: { id: "openai:gpt-4o-mini" }
  system_prompt: You help.
${spec}`;

/** The error a definition fails with. */
function failure(text: string, options: Parameters<typeof parseAgentDefinition>[2] = {}): AiFactoryError {
  try {
    parseAgentDefinition(text, path.join(folder, 'agent.yaml'), options);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as AiFactoryError;
  }
  throw new Error('expected the definition to be refused');
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'aifactory-agents-'));
  await mkdir(path.join(folder, 'prompts'));
  await mkdir(path.join(folder, 'policies'));
  await writeFile(path.join(folder, 'prompts', 'helper.md'), 'You are a helper.\n');
  await writeFile(path.join(folder, 'policies', 'helper.yaml'), 'kind: AutonomyPolicy\n');
});

afterAll(() => rm(folder, { recursive: true, force: true }));

describe('parseAgentDefinition', () => {
  it('resolves paths against the agent file and hashes the prompt and the definition', () => {
    const text = `apiVersion: aifactory/v1
kind: Agent
metadata: { name: helper, description: Helps., team: ops, tags: [internal] }
spec:
  model: { id: "anthropic:claude-haiku-4-5", parameters: { temperature: 0.2, max_tokens: 800, top_k: 5 }, fallback: "openai:gpt-4o-mini" }
  system_prompt_file: prompts/helper.md
  policies: [./policies/helper.yaml]
  knowledge: [{ collection: handbook, top_k: 3 }]
  handoffs: [researcher]
  limits: { max_steps: 10, max_cost_usd: 0.5, max_duration: 90m }
`;
    const definition = parseAgentDefinition(text, path.join(folder, 'helper.yaml'));
    expect(definition).toMatchObject({
      name: 'helper',
      team: 'ops',
      tags: ['internal'],
      file: path.join(folder, 'helper.yaml'),
      directory: folder,
      model: {
        id: 'anthropic:claude-haiku-4-5',
        parameters: { temperature: 0.2, max_tokens: 800, top_k: 5 },
        fallback: 'openai:gpt-4o-mini',
      },
      systemPrompt: 'You are a helper.\n',
      systemPromptFile: path.join(folder, 'prompts', 'helper.md'),
      promptHash: sha256Hex('You are a helper.\n'),
      policies: [path.join(folder, 'policies', 'helper.yaml')],
      knowledge: [{ collection: 'handbook', topK: 3 }],
      handoffs: ['researcher'],
      limits: { max_steps: 10, max_cost_usd: 0.5, max_duration: '90m' },
      maxDurationMs: 5_400_000,
      tools: [],
    });
    expect(definition.definitionHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads a definition with a YAML warning (an unresolved tag), as it always did', () => {
    const definition = parseAgentDefinition(
      minimal().replace('description: Helps.', 'description: !note Helps.'),
      path.join(folder, 'agent.yaml'),
    );
    expect(definition.description).toBe('Helps.');
  });

  it('keeps the definition hash across formatting and comments, and changes it with the content', () => {
    const hash = (text: string) => parseAgentDefinition(text, path.join(folder, 'agent.yaml')).definitionHash;
    const original = hash(minimal());
    expect(hash(`# a comment\n${minimal().replace('{ id: "openai:gpt-4o-mini" }', '\n    id: openai:gpt-4o-mini')}`)).toBe(original);
    expect(hash(minimal().replace('You help.', 'You help a lot.'))).not.toBe(original);
    expect(hash(minimal('  limits: { max_steps: 3 }\n'))).not.toBe(original);
  });

  it('expands ${agentDir}, ${dataDir} and ${env:NAME} in server settings, and keeps them out of the hash', () => {
    const text = minimal(`  tools:
    - server: local
      command: \${agentDir}/bin/server
      args: ["--root", "\${agentDir}/data", "--cache=\${dataDir}/cache", "price: $\${amount}"]
      env: { API_TOKEN: "\${env:LOCAL_TOKEN}" }
      cwd: work
      allow: [read_*]
      timeout_ms: 5000
    - server: crm
      url: https://crm.example.com/mcp
      headers: { Authorization: "Bearer \${env:CRM_TOKEN}" }
`);
    const first = parseAgentDefinition(text, path.join(folder, 'agent.yaml'), {
      env: { LOCAL_TOKEN: 'l-1', CRM_TOKEN: 'c-1' },
      dataDirectory: '/var/factory',
    });
    expect(first.tools).toEqual([
      {
        name: 'local',
        command: `${folder}/bin/server`,
        args: ['--root', `${folder}/data`, '--cache=/var/factory/cache', 'price: ${amount}'],
        env: { API_TOKEN: 'l-1' },
        cwd: path.join(folder, 'work'),
        allow: ['read_*'],
        timeoutMs: 5000,
      },
      { name: 'crm', url: 'https://crm.example.com/mcp', headers: { Authorization: 'Bearer c-1' } },
    ]);
    const second = parseAgentDefinition(text, path.join(folder, 'agent.yaml'), {
      env: { LOCAL_TOKEN: 'l-2', CRM_TOKEN: 'c-2' },
      dataDirectory: '/var/factory',
    });
    expect(second.definitionHash).toBe(first.definitionHash);
    expect(JSON.stringify(first.document)).not.toContain('c-1');
  });

  it('runs a package server with the current Node from its installed bin script', () => {
    const definition = parseAgentDefinition(
      minimal(`  tools:\n    - server: fs\n      package: "@modelcontextprotocol/server-filesystem"\n      args: ["\${agentDir}"]\n`),
      path.join(folder, 'agent.yaml'),
    );
    expect(definition.tools[0]).toMatchObject({
      name: 'fs',
      command: process.execPath,
      args: [expect.stringMatching(/server-filesystem[/\\]dist[/\\]index\.js$/), folder],
    });
  });
});

describe('parseAgentDefinition errors name file, line, column and field', () => {
  const cases: Array<{
    title: string;
    text: string;
    line: number;
    column: number;
    path?: string;
    message: RegExp;
    env?: Record<string, string>;
  }> = [
    {
      title: 'YAML syntax',
      text: 'apiVersion: aifactory/v1\nkind: [Agent\n',
      line: 3,
      column: 1,
      message: /^Agent definition is not valid YAML: /,
    },
    {
      title: 'duplicate keys',
      text: minimal().replace('kind: Agent', 'kind: Agent\nkind: Agent'),
      line: 3,
      column: 1,
      message: /Map keys must be unique/,
    },
    {
      title: 'an empty file',
      text: '',
      line: 1,
      column: 1,
      message: /must be a mapping with apiVersion, kind, metadata and spec, not an empty document/,
    },
    {
      title: 'a future apiVersion',
      text: minimal().replace('aifactory/v1', 'aifactory/v2'),
      line: 1,
      column: 13,
      path: 'apiVersion',
      message: /^Must be 'aifactory\/v1' .*, got 'aifactory\/v2'\.$/,
    },
    {
      title: 'an unknown top-level key',
      text: `${minimal()}status: draft\n`,
      line: 9,
      column: 1,
      path: 'status',
      message: /^Unknown key 'status'; expected one of: apiVersion, kind, metadata, spec\.$/,
    },
    {
      title: 'a misspelt spec key',
      text: minimal('  polices: [a.yaml]\n'),
      line: 9,
      column: 3,
      path: 'spec.polices',
      message:
        /^Unknown key 'polices'; expected one of: model, system_prompt, system_prompt_file, prompt, prompt_variables, tools, knowledge, policies, handoffs, limits\.$/,
    },
    {
      title: 'an unknown key in a tool server',
      text: minimal('  tools:\n    - server: fs\n      command: x\n      alow: [read]\n'),
      line: 12,
      column: 7,
      path: 'spec.tools[0].alow',
      message:
        /^Unknown key 'alow'; expected one of: server, package, bin, command, args, env, cwd, url, headers, allow, idempotent, timeout_ms\.$/,
    },
    {
      title: 'a prototype key',
      text: minimal('', '  __proto__: { admin: true }\n'),
      line: 6,
      column: 3,
      path: 'metadata.__proto__',
      message: /^Unknown key '__proto__'/,
    },
    {
      title: 'a missing description',
      text: minimal().replace('  description: Helps.\n', ''),
      line: 4,
      column: 3,
      path: 'metadata.description',
      message: /^Required field is missing\.$/,
    },
    {
      title: 'a wrong type',
      text: minimal('  limits: { max_steps: ten }\n'),
      line: 9,
      column: 24,
      path: 'spec.limits.max_steps',
      message: /^Expected number, got 'ten'\.$/,
    },
    {
      title: 'a model without provider',
      text: minimal().replace('openai:gpt-4o-mini', 'gpt-4o-mini'),
      line: 7,
      column: 16,
      path: 'spec.model.id',
      message: /^Must be written provider:model/,
    },
    {
      title: 'a bad duration',
      text: minimal('  limits: { max_duration: soon }\n'),
      line: 9,
      column: 27,
      path: 'spec.limits.max_duration',
      message: /duration/,
    },
    {
      title: 'both prompt forms',
      text: minimal('  system_prompt_file: prompts/helper.md\n'),
      line: 7,
      column: 3,
      path: 'spec',
      message: /^Needs exactly one of system_prompt, system_prompt_file or prompt\.$/,
    },
    {
      title: 'a server with two launch modes',
      text: minimal('  tools:\n    - server: fs\n      command: x\n      url: http://localhost/mcp\n'),
      line: 10,
      column: 7,
      path: 'spec.tools[0]',
      message: /^Needs exactly one of package, command or url \(found command and url\)\.$/,
    },
    {
      title: 'args on a url server',
      text: minimal('  tools:\n    - server: crm\n      url: http://localhost/mcp\n      args: [x]\n'),
      line: 12,
      column: 13,
      path: 'spec.tools[0].args',
      message: /stdio servers/,
    },
    {
      title: 'a reserved server name',
      text: minimal('  tools:\n    - server: knowledge\n      command: x\n'),
      line: 10,
      column: 15,
      path: 'spec.tools[0].server',
      message: /^Is a reserved name/,
    },
    {
      title: 'a server name with a dot',
      text: minimal('  tools:\n    - server: fs.main\n      command: x\n'),
      line: 10,
      column: 15,
      path: 'spec.tools[0].server',
      message: /^Must start with a letter .*, got 'fs\.main'\.$/,
    },
    {
      title: 'two servers with one name',
      text: minimal('  tools:\n    - { server: fs, command: x }\n    - { server: fs, command: y }\n'),
      line: 11,
      column: 17,
      path: 'spec.tools[1].server',
      message: /^'fs' is already the name of tools\[0\]\.$/,
    },
    {
      title: 'a missing policy file',
      text: minimal('  policies:\n    - policies/helper.yaml\n    - policies/missing.yaml\n'),
      line: 11,
      column: 7,
      path: 'spec.policies[1]',
      message: /^Policy file 'policies\/missing\.yaml' does not exist/,
    },
    {
      title: 'a missing prompt file',
      text: minimal().replace('system_prompt: You help.', 'system_prompt_file: prompts/nope.md'),
      line: 8,
      column: 23,
      path: 'spec.system_prompt_file',
      message: /^Prompt file 'prompts\/nope\.md' does not exist/,
    },
    {
      title: 'a missing model script',
      text: minimal().replace('{ id: "openai:gpt-4o-mini" }', '{ id: "scripted:x", script: scripts/x.yaml }'),
      line: 7,
      column: 38,
      path: 'spec.model.script',
      message: /^Model script 'scripts\/x\.yaml' does not exist/,
    },
    {
      title: 'a hand-off to itself',
      text: minimal('  handoffs: [researcher, helper]\n'),
      line: 9,
      column: 26,
      path: 'spec.handoffs[1]',
      message: /^Agent 'helper' cannot hand off to itself\.$/,
    },
    {
      title: 'an unknown variable',
      text: minimal('  tools:\n    - server: fs\n      command: x\n      args: ["${home}/data"]\n'),
      line: 12,
      column: 14,
      path: 'spec.tools[0].args[0]',
      message: /^Cannot expand '\$\{home\}\/data': unknown variable '\$\{home\}'; use \$\{agentDir\}, \$\{dataDir\} or \$\{env:NAME\}/,
    },
    {
      title: 'an unset environment variable',
      text: minimal(
        '  tools:\n    - server: crm\n      url: http://localhost/mcp\n      headers: { Authorization: "Bearer ${env:CRM_TOKEN}" }\n',
      ),
      line: 12,
      column: 33,
      path: 'spec.tools[0].headers.Authorization',
      message: /environment variable 'CRM_TOKEN' is not set/,
      env: {},
    },
    {
      title: 'a package that is not installed',
      text: minimal('  tools:\n    - server: x\n      package: "@aifactory/no-such-server"\n'),
      line: 11,
      column: 16,
      path: 'spec.tools[0].package',
      message: /^Package '@aifactory\/no-such-server' is not installed/,
    },
  ];
  for (const testCase of cases) {
    it(`refuses ${testCase.title}`, () => {
      const error = failure(testCase.text, testCase.env ? { env: testCase.env } : {});
      expect(error.code).toBe('AGENT_INVALID');
      expect(error.message).toMatch(testCase.message);
      expect(error.location).toMatchObject({
        file: path.join(folder, 'agent.yaml'),
        line: testCase.line,
        column: testCase.column,
        ...(testCase.path ? { path: testCase.path } : {}),
      });
    });
  }

  it('reports every problem in details and the first one in the message', () => {
    const error = failure(minimal('  limits: { max_steps: 0, max_tool_calls: -1 }\n  extra: 1\n').replace('aifactory/v1', 'v1'));
    expect(error.message).toMatch(/^Must be 'aifactory\/v1'.*, got 'v1' \(and 3 more problems\)\.$/);
    const problems = error.details?.problems as Array<{ message: string; location: { path?: string } }>;
    expect(problems[0]).toEqual({ message: error.message.replace(/ \(and 3 more problems\)\.$/, '.'), location: error.location });
    expect(problems.map((problem) => problem.location.path)).toEqual([
      'apiVersion',
      'spec.limits.max_steps',
      'spec.limits.max_tool_calls',
      'spec.extra',
    ]);
  });
});

describe('loading agents from files', () => {
  it('loads a folder, checks names are unique and hand-offs resolve, and finds agents by name or path', async () => {
    const agents = path.join(folder, 'team');
    await mkdir(path.join(agents, 'scripts'), { recursive: true });
    await writeFile(path.join(agents, 'scripts', 'not-an-agent.yaml'), 'turns: []\n');
    await writeFile(path.join(agents, 'triage.yaml'), minimal('  handoffs: [billing]\n').replace('name: helper', 'name: triage'));
    await writeFile(path.join(agents, 'billing-agent.yml'), minimal().replace('name: helper', 'name: billing'));
    expect((await loadAgents(agents)).map((agent) => agent.name)).toEqual(['billing', 'triage']);

    expect((await findAgent('billing', { directory: agents })).file).toBe(path.join(agents, 'billing-agent.yml'));
    expect((await findAgent(path.join(agents, 'triage.yaml'))).name).toBe('triage');
    await expect(findAgent('payroll', { directory: agents })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: `No agent named 'payroll' in ${agents}; agents there: billing, triage.`,
    });
    await expect(loadAgentDefinition(path.join(agents, 'nope.yaml'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/it does not exist/),
    });

    await writeFile(path.join(agents, 'triage.yaml'), minimal('  handoffs: [billing, payroll]\n').replace('name: helper', 'name: triage'));
    await expect(loadAgents(agents)).rejects.toMatchObject({
      code: 'AGENT_INVALID',
      message: expect.stringMatching(/^Hand-off target 'payroll' is not an agent in .*; agents there: billing, triage\.$/),
      location: { file: path.join(agents, 'triage.yaml'), line: 9, column: 23, path: 'spec.handoffs[1]' },
    });

    await writeFile(path.join(agents, 'triage.yaml'), minimal().replace('name: helper', 'name: billing'));
    await expect(loadAgents(agents)).rejects.toMatchObject({
      code: 'AGENT_INVALID',
      message: `Agent name 'billing' is already used by ${path.join(agents, 'billing-agent.yml')}.`,
      location: { file: path.join(agents, 'triage.yaml'), line: 4, column: 9, path: 'metadata.name' },
    });
  });
});
