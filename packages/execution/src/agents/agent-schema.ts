// The agent definition format (`kind: Agent`), as a zod schema: the single source of the
// validation, of the TypeScript types and of the JSON Schema shipped for editors
// (packages/execution/schema/agent.schema.json). Unknown keys are errors everywhere except in
// model parameters, which are provider-specific.
import { z } from 'zod';
import { serverNameProblem, serverNamePattern } from '../tools/tool-names.ts';

/** What an agent name must look like: lowercase letters, digits and inner `-`, at most 63. */
export const agentNamePattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const modelIdPattern = /^[a-z][a-z0-9-]*:\S+$/;
/** A registry prompt reference: `<name>@<label or version>`. */
export const promptReferencePattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?@(?:[1-9][0-9]{0,8}|[a-z][a-z0-9-]{0,31})$/;
// The grammar of a policy's max_duration, so agent and policy limits read the same.
const durationPattern = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;
const environmentNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

const agentName = z
  .string()
  .regex(agentNamePattern, { error: 'must be lowercase letters, digits and inner dashes (at most 63 characters), e.g. file-clerk' })
  .describe('Agent name: lowercase letters, digits and inner dashes.');

const modelId = z.string().regex(modelIdPattern, {
  error: 'must be written provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5 or scripted:demo',
});

const duration = z
  .union([
    z.string().regex(durationPattern, { error: 'must be a duration such as 90s, 15m, 4h or 2d, or a number of seconds' }),
    z.number().positive(),
  ])
  .describe('A duration: 500ms, 90s, 15m, 4h, 2d, or a number of seconds.');

const model = z
  .strictObject({
    id: modelId.describe('provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5, ollama:llama3.1, scripted:file-clerk.'),
    parameters: z
      .object({
        temperature: z.number().min(0).max(2).optional().describe('Sampling temperature.'),
        max_tokens: z.number().int().positive().optional().describe('Upper bound on output tokens per call.'),
        top_p: z.number().min(0).max(1).optional().describe('Nucleus sampling.'),
      })
      .catchall(z.unknown())
      .optional()
      .describe('Model parameters; keys other than temperature and max_tokens are passed to the provider as they are.'),
    fallback: modelId.optional().describe('provider:model to call when the primary model is unavailable.'),
    script: z.string().min(1).optional().describe('Scripted-model YAML played offline, relative to this file.'),
  })
  .describe('The model the agent thinks with.');

const toolServer = z
  .strictObject({
    server: z
      .string()
      .regex(serverNamePattern, { error: "must start with a letter and use letters, digits and '-' (at most 32 characters)", abort: true })
      .refine((name) => serverNameProblem(name) === undefined, {
        error: 'is a reserved name: the runtime’s own tools use the prefixes knowledge and handoff',
      })
      .describe('Server name; its tools are called <server>.<tool>.'),
    package: z
      .string()
      .min(1)
      .optional()
      .describe('npm package whose bin is run with the current Node (stdio); exclusive with command and url.'),
    bin: z.string().min(1).optional().describe('Which bin of the package to run, when it has several.'),
    command: z.string().min(1).optional().describe('Executable of a stdio server; exclusive with package and url.'),
    args: z.array(z.string()).optional().describe('Arguments; may use ${agentDir}, ${dataDir} and ${env:NAME}.'),
    env: z
      .record(z.string().regex(environmentNamePattern, { error: 'must be an environment variable name' }), z.string())
      .optional()
      .describe('Environment of the server process (nothing else is inherited beyond HOME, PATH, USER and the like).'),
    cwd: z.string().min(1).optional().describe('Working directory of the server process, relative to this file.'),
    url: z.string().min(1).optional().describe('Streamable HTTP endpoint of a remote server; exclusive with package and command.'),
    headers: z.record(z.string(), z.string()).optional().describe('HTTP headers, e.g. Authorization: "Bearer ${env:CRM_TOKEN}".'),
    allow: z
      .array(z.string().min(1))
      .optional()
      .describe('Globs over the tool names offered to the agent; all tools when absent, none when empty.'),
    idempotent: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Globs over the tool names that are safe to run twice: when a crash leaves such a call's outcome unknown, the run retries it; any other tool holds the run (outcome_unknown) for a human.",
      ),
    timeout_ms: z.number().int().positive().optional().describe('Timeout of one tool call, in milliseconds.'),
  })
  .superRefine((server, context) => {
    const ways = (['package', 'command', 'url'] as const).filter((key) => server[key] !== undefined);
    if (ways.length !== 1) {
      context.addIssue({
        code: 'custom',
        path: [],
        message: `needs exactly one of package, command or url (found ${ways.length === 0 ? 'none' : ways.join(' and ')})`,
      });
      return;
    }
    if (server.url !== undefined) {
      for (const key of ['args', 'env', 'cwd', 'bin'] as const) {
        if (server[key] !== undefined)
          context.addIssue({ code: 'custom', path: [key], message: `applies to stdio servers (package or command), not to a url` });
      }
    } else if (server.headers !== undefined) {
      context.addIssue({ code: 'custom', path: ['headers'], message: 'applies to url servers only' });
    }
    if (server.bin !== undefined && server.package === undefined)
      context.addIssue({ code: 'custom', path: ['bin'], message: 'applies with package only' });
  })
  .describe('An MCP server the agent takes tools from.');

const knowledge = z
  .strictObject({
    collection: z.string().min(1).describe('Knowledge collection name.'),
    top_k: z.number().int().min(1).max(100).optional().describe('Passages retrieved per search.'),
  })
  .describe('A knowledge collection the agent may search.');

/** Limits, with the keys and meaning of a policy's `limits`. */
export const agentLimitsSchema = z
  .strictObject({
    max_steps: z.number().int().positive().optional().describe('Most model steps per run.'),
    max_tool_calls: z.number().int().min(0).optional().describe('Most tool calls per run.'),
    max_tokens: z.number().int().positive().optional().describe('Most tokens (input and output) per run.'),
    max_cost_usd: z.number().positive().optional().describe('Most model cost per run, in US dollars.'),
    max_duration: duration.optional().describe('Longest wall time of a run.'),
    on_exceeded: z
      .enum(['stop', 'hold'])
      .optional()
      .describe('stop (default): the run ends as failed; hold: the run waits for an approver to let it go on.'),
  })
  .describe('Per-run limits; the strictest of these and the policies’ limits applies.');

const spec = z
  .strictObject({
    model,
    system_prompt: z.string().min(1).optional().describe('The system prompt (exclusive with system_prompt_file).'),
    system_prompt_file: z.string().min(1).optional().describe('File holding the system prompt, relative to this file.'),
    prompt: z
      .string()
      .regex(promptReferencePattern, { error: 'must be <prompt>@<label or version>, e.g. policy-copilot@production or policy-copilot@3' })
      .optional()
      .describe(
        'A prompt of the registry (prompts/<name>.yaml), as <name>@<label or version>; resolved when a run starts and recorded with it.',
      ),
    prompt_variables: z.record(z.string(), z.string()).optional().describe("Values of the registry prompt's variables."),
    tools: z.array(toolServer).default([]).describe('MCP servers the agent takes tools from.'),
    knowledge: z.array(knowledge).default([]).describe('Knowledge collections the agent may search.'),
    policies: z.array(z.string().min(1)).default([]).describe('Autonomy policy files that apply, relative to this file.'),
    handoffs: z.array(agentName).default([]).describe('Agents this one may hand a task to (supervisor pattern).'),
    limits: agentLimitsSchema.optional(),
  })
  .superRefine((value, context) => {
    const prompts = [value.system_prompt, value.system_prompt_file, value.prompt].filter((prompt) => prompt !== undefined).length;
    if (prompts !== 1)
      context.addIssue({ code: 'custom', path: [], message: 'needs exactly one of system_prompt, system_prompt_file or prompt' });
    if (value.prompt_variables !== undefined && value.prompt === undefined)
      context.addIssue({ code: 'custom', path: ['prompt_variables'], message: 'applies with prompt only' });
    const seen = new Map<string, number>();
    value.tools.forEach((server, index) => {
      if (seen.has(server.server))
        context.addIssue({
          code: 'custom',
          path: ['tools', index, 'server'],
          message: `'${server.server}' is already the name of tools[${seen.get(server.server)}]`,
        });
      seen.set(server.server, index);
    });
    value.handoffs.forEach((agent, index) => {
      if (value.handoffs.indexOf(agent) !== index)
        context.addIssue({ code: 'custom', path: ['handoffs', index], message: `'${agent}' is listed twice` });
    });
  });

/** An agent definition document, as written. */
export const agentDocumentSchema = z
  .strictObject({
    apiVersion: z.literal('aifactory/v1', { error: "must be 'aifactory/v1' (the only version this release reads)" }),
    kind: z.literal('Agent', { error: "must be 'Agent'" }),
    metadata: z.strictObject({
      name: agentName,
      description: z.string().min(1).describe('What the agent does; shown to supervisors that may hand off to it.'),
      team: z.string().min(1).optional().describe('Team the agent’s cost is attributed to.'),
      feature: z.string().min(1).optional().describe('Product feature the agent’s cost is attributed to (a run may name another).'),
      tags: z.array(z.string().min(1)).optional().describe('Free-form tags, visible to policies as agent.tags.'),
    }),
    spec,
  })
  .meta({
    title: 'aifactory agent definition',
    description: 'An agent: its model, prompt, MCP tools, knowledge, policies, hand-offs and limits.',
  });

/** An agent definition document as written (before defaults). */
export type AgentDocumentInput = z.input<typeof agentDocumentSchema>;
/** An agent definition document after validation and defaults. */
export type AgentDocument = z.output<typeof agentDocumentSchema>;
/** Per-run limits, with the keys of a policy's `limits`. */
export type AgentLimits = z.output<typeof agentLimitsSchema>;

/** The JSON Schema of the agent format, for editors (`# yaml-language-server: $schema=...`). */
export function agentJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(agentDocumentSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
