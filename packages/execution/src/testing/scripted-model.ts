// A deterministic model for testing agents: plays a script whatever model the request names,
// and records every request so a test can assert what the agent sent.
import { createModelGateway } from '../models/model-gateway.ts';
import type { ModelScript, ScriptTurn } from '../models/model-script.ts';
import { parseScript } from '../models/model-script.ts';
import type {
  MeteredModelGateway,
  ModelCallOptions,
  ModelRequest,
  ModelResponse,
  UsageFilter,
  UsageRecord,
} from '../models/model-types.ts';

/**
 * A model gateway that plays one script for every call, whatever `request.model` says, so an
 * agent defined for `openai:gpt-4o` runs offline. Playing is stateless (see `playScript`), and
 * a call the script has no turn for rejects with `UnexpectedModelCallError`.
 *
 * ```ts
 * const model = new ScriptedModel([{ toolCalls: [{ name: 'fs.read_file', args: { path: 'a.txt' } }] }, { say: 'Done.' }]);
 * ```
 */
export class ScriptedModel implements MeteredModelGateway {
  /** Every request received, in order (copies, as sent). */
  readonly requests: ModelRequest[] = [];
  readonly #gateway: MeteredModelGateway;
  readonly #name: string;

  /** Takes a parsed script, a list of turns, or the YAML text of a script. */
  constructor(script: ModelScript | ScriptTurn[] | string, options: { name?: string } = {}) {
    this.#name = options.name ?? 'scripted-model';
    const parsed = typeof script === 'string' ? parseScript(script, `<${this.#name}>`) : Array.isArray(script) ? { turns: script } : script;
    this.#gateway = createModelGateway({ scripts: { [this.#name]: parsed } });
  }

  /** Plays the script's turn for this request. */
  call(request: ModelRequest, options?: ModelCallOptions): Promise<ModelResponse> {
    this.requests.push(structuredClone(request));
    return this.#gateway.call({ ...request, model: `scripted:${this.#name}` }, options);
  }

  /** Usage of the calls so far (estimated tokens, zero cost). */
  usage(filter?: UsageFilter): UsageRecord[] {
    return this.#gateway.usage(filter);
  }
}
