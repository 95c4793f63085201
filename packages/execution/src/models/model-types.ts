// The provider-neutral shapes every model call goes through: one request, one response,
// whatever the provider. The runtime only ever sees these.

/** One message of a conversation, in the gateway's provider-neutral form. */
export interface ChatMessage {
  /** Who speaks: the system prompt, the user, the model, or a tool result. */
  role: 'system' | 'user' | 'assistant' | 'tool';
  /** The text; for a tool message, the tool's result. */
  content: string;
  /** Tool calls the assistant made in this message. */
  toolCalls?: ToolCall[];
  /** For a tool message: the id of the call it answers. */
  toolCallId?: string;
  /** For a tool message: the tool's name (some providers want it). */
  name?: string;
}

/** A tool call the model asked for. */
export interface ToolCall {
  /** Provider-assigned (or scripted) id; tool results refer to it. */
  id: string;
  /** Tool name as offered to the model in `ToolSpec.name`. */
  name: string;
  /** Parsed JSON arguments. */
  args: Record<string, unknown>;
}

/** A tool offered to the model. */
export interface ToolSpec {
  /** Name the model calls it by (letters, digits, `_` and `-`, at most 64 characters for most providers). */
  name: string;
  /** What the tool does, for the model. */
  description?: string;
  /** JSON Schema of the arguments (an object schema). */
  inputSchema: Record<string, unknown>;
}

/** One model call. */
export interface ModelRequest {
  /** `provider:model`, e.g. `openai:gpt-4o-mini`, `anthropic:claude-sonnet-4-5`, `ollama:llama3.1:8b`, `scripted:demo`. */
  model: string;
  /** The conversation so far, system prompt included. */
  messages: ChatMessage[];
  /** Tools the model may call. */
  tools?: ToolSpec[];
  /** Sampling temperature. */
  temperature?: number;
  /** Upper bound on output tokens. */
  maxTokens?: number;
  /** Extra provider parameters passed through as-is (e.g. `top_p`); they never override messages, tools or model. */
  parameters?: Record<string, unknown>;
}

/** Who a call is charged to. */
export interface ModelAttribution {
  /** Team the agent belongs to. */
  team?: string;
  /** Agent id. */
  agent?: string;
  /** Run id. */
  runId?: string;
}

/** Token counts of one call. */
export interface ModelUsage {
  /** Prompt tokens (Anthropic: including cache reads and writes). */
  inputTokens: number;
  /** Completion tokens. */
  outputTokens: number;
  /** True when the provider reported no usage and the counts are estimates (characters / 4). */
  estimated?: boolean;
}

/** What a model call returned, with its cost and how it went. */
export interface ModelResponse {
  /** Provider that answered (the fallback's when `fallbackUsed`). */
  provider: string;
  /** Model that answered, as the caller named it (without the provider prefix). */
  model: string;
  /** The text of the answer (may be empty when the model only calls tools). */
  content: string;
  /** Tool calls, with arguments fully assembled and parsed. */
  toolCalls: ToolCall[];
  /** Token usage. */
  usage: ModelUsage;
  /** Cost in USD from the price table; 0 when the model is not priced (see `priced`). */
  costUsd: number;
  /** False when the model has no entry in the price table, so `costUsd` is 0 for want of a price. */
  priced: boolean;
  /** Normalised reason the model stopped: `stop`, `tool_calls`, `length`, or the provider's own value. */
  finishReason: string;
  /** Wall time of the whole call, retries and fallback included, in milliseconds. */
  latencyMs: number;
  /** HTTP attempts made in total, over the primary and the fallback (1 when the first try succeeded). */
  attempts: number;
  /** True when the primary failed and the configured fallback answered. */
  fallbackUsed: boolean;
  /** Why the primary was given up on, when `fallbackUsed`. */
  fallbackReason?: string;
  /** Who the call is charged to, as passed in the call options. */
  attribution?: ModelAttribution;
}

/** Options of one call. */
export interface ModelCallOptions {
  /** Cancels the call; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Streams the answer: called with each text fragment as it arrives. Without it the call does not stream. */
  onToken?: (text: string) => void;
  /** Who the call is charged to; recorded in the usage ledger and echoed in the response. */
  attribution?: ModelAttribution;
  /** `provider:model` to fall back to for this call, overriding the gateway's; `null` disables fallback. */
  fallback?: string | null;
  /**
   * Asked before the fallback model is called, so the runtime can govern it as the model call it
   * is (a policy may forbid its provider). Return false to refuse: the primary's error is thrown.
   * If it throws, that error is thrown and the fallback is not called.
   */
  beforeFallback?: (fallback: { model: string; reason: string }) => boolean | Promise<boolean>;
}

/** One row of the usage ledger: the calls of one team, agent, run and model. */
export interface UsageRecord {
  /** Team, when attributed. */
  team?: string;
  /** Agent, when attributed. */
  agent?: string;
  /** Run, when attributed. */
  runId?: string;
  /** `provider:model` that answered. */
  model: string;
  /** Successful calls. */
  calls: number;
  /** Sum of input tokens. */
  inputTokens: number;
  /** Sum of output tokens. */
  outputTokens: number;
  /** Sum of cost in USD. */
  costUsd: number;
}

/** Narrows `gateway.usage()` to one team, agent or run. */
export interface UsageFilter {
  /** Only this team. */
  team?: string;
  /** Only this agent. */
  agent?: string;
  /** Only this run. */
  runId?: string;
}

/** Carries every model call of the execution plane. */
export interface ModelGateway {
  /** Calls a model, with retries, timeout, fallback, usage and cost. Rejects with a MODEL_FAILED error. */
  call(request: ModelRequest, options?: ModelCallOptions): Promise<ModelResponse>;
}

/** The gateway `createModelGateway` returns: a gateway that also keeps a usage ledger. */
export interface MeteredModelGateway extends ModelGateway {
  /** The in-memory usage ledger, one row per team, agent, run and model, sorted by those keys. */
  usage(filter?: UsageFilter): UsageRecord[];
}
