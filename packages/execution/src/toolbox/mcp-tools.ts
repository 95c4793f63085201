// The MCP tools an agent's allow-list admits, served by its ToolHost. Tool names come from the
// model, so they are looked up in our own map by own property only.
import type { ToolCall, ToolSpec } from '../models/index.ts';
import type { ToolHost } from '../tools/index.ts';
import type { ResolvedCall, ToolOutcome, ToolRun } from './toolbox-port.ts';

/** The MCP tools of one agent, by their model-safe names. */
export class McpTools {
  readonly #host: ToolHost;
  readonly #byModelName = new Map<string, { name: string; spec: ToolSpec }>();

  constructor(host: ToolHost) {
    this.#host = host;
    for (const descriptor of host.list()) {
      this.#byModelName.set(descriptor.modelName, {
        name: descriptor.name,
        spec: { name: descriptor.modelName, description: descriptor.description ?? descriptor.name, inputSchema: descriptor.inputSchema },
      });
    }
  }

  /** The tool specs, in the host's order. */
  specs(): ToolSpec[] {
    return [...this.#byModelName.values()].map((entry) => entry.spec);
  }

  /** The tool action a call stands for, or undefined when no such tool is served. */
  resolve(call: ToolCall): ({ ok: true } & ResolvedCall) | undefined {
    // call.name is model-controlled: a Map lookup sees only the tools put in it, never a prototype key.
    const entry = this.#byModelName.get(call.name);
    if (!entry) return undefined;
    // Arguments that fail the schema go to the gate all the same, which denies them before any rule and records it.
    const validation = this.#host.validate(entry.name, call.args);
    if (!validation.ok)
      return { ok: true, action: { kind: 'tool', name: entry.name, args: call.args, argumentErrors: validation.errors }, tool: entry.name };
    return { ok: true, action: { kind: 'tool', name: entry.name, args: call.args }, tool: entry.name };
  }

  /** Calls the tool on its MCP server; a failure is an outcome, not an exception. */
  async execute(call: ToolCall, resolved: ResolvedCall, run: ToolRun): Promise<ToolOutcome> {
    const result = await this.#host.call(resolved.tool, call.args);
    if (result.ok) {
      return {
        ok: true,
        content: result.content,
        event: {
          type: 'tool.returned',
          actor: resolved.tool,
          payload: { step: run.step, call_id: call.id, name: resolved.tool, content: result.content, duration_ms: result.durationMs },
        },
      };
    }
    return {
      ok: false,
      message: result.error.message,
      event: {
        type: 'tool.failed',
        actor: resolved.tool,
        payload: {
          step: run.step,
          call_id: call.id,
          name: resolved.tool,
          error: { code: result.error.code, message: result.error.message },
          duration_ms: result.durationMs,
        },
      },
    };
  }
}
