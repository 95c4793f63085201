// The typed client of the aifactory HTTP API for business apps: ask a copilot, stream its
// tokens, see governed actions and holds, and follow a held run until an approver decides.
// Only fetch, streams and TextDecoder: it runs in browsers, Node and workers alike.
import { parseServerSentEvents } from './sse.ts';

/** Authority of a governed action, least to most restrictive. */
export type Authority = 'autonomous' | 'notify_human' | 'require_approval' | 'deny';

/**
 * One thing that happened in a run (the server's RunEvent, kept equal to it by a type test in
 * test/client-package.test.ts), plus the stream's own notices.
 */
export type RunEvent =
  | { type: 'run.started'; runId: string; agent: string; principal: string }
  | { type: 'token'; runId: string; text: string }
  | {
      type: 'action.decided';
      runId: string;
      step: number;
      kind: string;
      name: string;
      args: Record<string, unknown>;
      authority: Authority;
      rules: string[];
      reason: string;
    }
  | { type: 'tool.returned'; runId: string; step: number; name: string; ok: boolean; summary: string }
  | { type: 'notification.queued'; runId: string; step: number; targets: string[] }
  | {
      type: 'run.held';
      runId: string;
      step: number;
      approvalId: string;
      kind: string;
      name: string;
      args: Record<string, unknown>;
      approvers: unknown;
      expiresAt?: string;
      /** Set when the run waits on a hand-off's child run, which holds the approval. */
      childRunId?: string;
    }
  | { type: 'approval.applied'; runId: string; step: number; approvalId: string; outcome: 'approved' | 'rejected' }
  | { type: 'budget.exceeded'; runId: string; limit: string; value: number; max: number; outcome: string }
  | { type: 'answer'; runId: string; text: string }
  | { type: 'run.completed'; runId: string; answer: string }
  | { type: 'run.failed'; runId: string; reason: string }
  | { type: 'run.status'; runId: string; status: string }
  | { type: 'server.closing'; runId: string; lastEventId: number };

/** A held action as a user sees it. */
export interface HeldAction {
  approvalId: string;
  kind: string;
  name: string;
  args: Record<string, unknown>;
}

/** How a turn ended (for now). */
export type ChatReply = (
  | { runId: string; status: 'completed'; answer: string }
  | { runId: string; status: 'held'; held: HeldAction }
  | { runId: string; status: 'failed'; error: string }
) & {
  /** The id of the last event seen; following the run from there sees each event once. */
  lastEventId?: number;
};

/** An approval as the API returns it. */
export interface Approval {
  id: string;
  runId: string;
  step: number;
  action: { kind: string; name: string; args: unknown };
  status: 'pending' | 'approved' | 'rejected' | 'expired' | 'consumed';
  outcome: 'approved' | 'rejected' | null;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string | null;
  votes: Array<{ approver: string; vote: 'approve' | 'reject'; comment?: string; at: string }>;
}

/** A run as listed. */
export interface RunSummary {
  id: string;
  agent: string;
  team: string | null;
  principal: string;
  /** running, queued, orphaned, recovering, held, completed or failed. */
  status: string;
  startedAt: string;
  endedAt: string | null;
  replayOf: string | null;
  parentRunId: string | null;
  /** Events in the run. */
  events: number;
  /** Whether the run's final seal exists. */
  sealed: boolean;
}

/** One page of runs, newest first, and the cursor of the next (null on the last). */
export interface RunPage {
  runs: RunSummary[];
  nextCursor: string | null;
}

/** Which runs to list. Times are ISO instants or durations ago such as 30m, 24h, 7d. */
export interface RunListFilter {
  agent?: string;
  status?: 'running' | 'queued' | 'orphaned' | 'recovering' | 'held' | 'completed' | 'failed';
  /** Started at or after. */
  since?: string;
  /** Started before. */
  until?: string;
  /** The nextCursor of the previous page. */
  cursor?: string;
  /** Runs per page (1-1000, default 100). */
  limit?: number;
}

/** What usage can be grouped by. */
export type UsageDimension = 'team' | 'feature' | 'agent' | 'model';

/** Figures of a usage group. */
export interface UsageFigures {
  /** Runs that made at least one of the calls. */
  runs: number;
  /** Model calls answered. */
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Usage of one group: the dimensions grouped by (null when unknown) and its figures. */
export interface UsageRow extends UsageFigures {
  team?: string | null;
  feature?: string | null;
  agent?: string | null;
  model?: string | null;
}

/** Cost and tokens of the recorded model calls, by descending cost. */
export interface UsageReport {
  by: UsageDimension[];
  since: string | null;
  until: string | null;
  rows: UsageRow[];
  total: UsageFigures;
}

/** Options of the client. */
export interface ClientOptions {
  /** The server's base URL, e.g. https://factory.acme.example. */
  baseUrl: string;
  /** An API token (factory tokens create). */
  token: string;
  /** A fetch of your own (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/** Handlers a streaming call takes. */
export interface StreamHandlers {
  /** Each token of the answer as the model streams it. */
  onToken?: (text: string) => void;
  /** Every event, tokens included. */
  onEvent?: (event: RunEvent) => void;
  /** Cancels the stream (the run itself goes on on the server). */
  signal?: AbortSignal;
}

/** An error answered by the API. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status. */
  readonly status: number;
  /** Stable code, e.g. INPUT_INVALID, NOT_FOUND, UNAUTHENTICATED. */
  readonly code: string;
  /** The offending field, when one is to blame. */
  readonly path: string | undefined;
  constructor(status: number, code: string, message: string, path?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

/**
 * Agent names as the server accepts them (`agentNamePattern` of @aifactory/execution, which this
 * browser-side package does not depend on; the OpenAPI document publishes the same pattern).
 */
const agentNamePattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Refuses, before any request, a reference that is not an agent name (a path, say). */
function checkAgentName(agent: string): void {
  if (typeof agent !== 'string' || !agentNamePattern.test(agent)) {
    const shown = JSON.stringify(String(agent).slice(0, 80));
    throw new ApiError(
      400,
      'INPUT_INVALID',
      `${shown} is not an agent name; agents are named (lowercase letters, digits and inner dashes, e.g. order-desk), never located by path.`,
      'agent',
    );
  }
}

/** Feedback on a run, as given. */
export interface FeedbackInput {
  /** From -1 (bad) to 1 (good); 1 and -1 for thumbs up and down. */
  score: number;
  /** What you thought of the answer. */
  comment?: string;
  /** The answer you expected instead. */
  correction?: string;
}

/** Feedback as the server recorded it. */
export interface Feedback extends FeedbackInput {
  /** The feedback record's id (a sealed chain of its own). */
  id: string;
  runId: string;
  /** The agent of the run. */
  agent: string;
  /** Who gave it (the token's principal). */
  by: string;
  sentiment: 'positive' | 'neutral' | 'negative';
  givenAt: string;
  /** The run's head (seq and hash) the feedback is bound to. */
  runHead: { seq: number; hash: string };
}

/** `?a=1&b=2` of the defined values, or nothing. */
function queryString(values: object): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== null) query.set(key, String(value));
  return query.size > 0 ? `?${query}` : '';
}

/** A client of one aifactory server. */
export class AiFactoryClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Opens a chat with a copilot (an agent). */
  chat(agent: string): CopilotChat {
    checkAgentName(agent);
    return new CopilotChat(this, agent);
  }

  /** Starts a run and streams it until it completes, fails or is held. */
  async ask(agent: string, input: string, handlers: StreamHandlers = {}): Promise<ChatReply> {
    checkAgentName(agent);
    const response = await this.#request('/v1/runs', {
      method: 'POST',
      body: JSON.stringify({ agent, input }),
      headers: { accept: 'text/event-stream' },
      ...(handlers.signal ? { signal: handlers.signal } : {}),
    });
    return this.#follow(response, handlers);
  }

  /** Follows a run this server drives (across holds) until it completes or fails. */
  async follow(runId: string, handlers: StreamHandlers & { afterId?: number } = {}): Promise<ChatReply> {
    const response = await this.#request(
      `/v1/runs/${encodeURIComponent(runId)}/events${handlers.afterId ? `?after=${handlers.afterId}` : ''}`,
      { headers: { accept: 'text/event-stream' }, ...(handlers.signal ? { signal: handlers.signal } : {}) },
    );
    return this.#follow(response, handlers);
  }

  /** One approval (operators see those of their own runs). */
  async approval(approvalId: string): Promise<Approval> {
    return ((await (await this.#request(`/v1/approvals/${encodeURIComponent(approvalId)}`)).json()) as { approval: Approval }).approval;
  }

  /** Approvals, optionally by status or run. */
  async approvals(filter: { status?: Approval['status']; runId?: string } = {}): Promise<Approval[]> {
    const query = new URLSearchParams(Object.entries(filter).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
    return ((await (await this.#request(`/v1/approvals${query.size > 0 ? `?${query}` : ''}`)).json()) as { approvals: Approval[] })
      .approvals;
  }

  /** Votes on a held action (approvers); a deciding vote resumes the run on the server. */
  async vote(
    approvalId: string,
    vote: 'approve' | 'reject',
    comment?: string,
  ): Promise<{ result: 'counted' | 'approved' | 'rejected'; remaining?: number; approval: Approval; resumed: boolean }> {
    const response = await this.#request(`/v1/approvals/${encodeURIComponent(approvalId)}/${vote}`, {
      method: 'POST',
      body: JSON.stringify(comment ? { comment } : {}),
    });
    return (await response.json()) as {
      result: 'counted' | 'approved' | 'rejected';
      remaining?: number;
      approval: Approval;
      resumed: boolean;
    };
  }

  /**
   * Gives feedback on a run you can see: a score from -1 (bad) to 1 (good), a comment, and the
   * answer you expected (a correction). The server records it as a sealed feedback record bound
   * to the run's head; corrections become evaluation cases with `factory feedback export`.
   */
  async feedback(runId: string, feedback: FeedbackInput): Promise<Feedback> {
    const response = await this.#request(`/v1/runs/${encodeURIComponent(runId)}/feedback`, {
      method: 'POST',
      body: JSON.stringify(feedback),
    });
    return ((await response.json()) as { feedback: Feedback }).feedback;
  }

  /** One page of runs, newest first (operators see their own); pass `nextCursor` back as `cursor` for the next. */
  async runs(filter: RunListFilter = {}): Promise<RunPage> {
    return (await (await this.#request(`/v1/runs${queryString(filter)}`)).json()) as RunPage;
  }

  /** Every run matching `filter`, newest first, walking the pages. */
  async *eachRun(filter: Omit<RunListFilter, 'cursor'> = {}): AsyncGenerator<RunSummary> {
    let cursor: string | null | undefined;
    do {
      const page = await this.runs({ ...filter, ...(cursor ? { cursor } : {}) });
      yield* page.runs;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** Cost and tokens by team, feature, agent or model (auditors and admins). */
  async usage(filter: { by?: UsageDimension[]; since?: string; until?: string } = {}): Promise<UsageReport> {
    const query = queryString({
      ...(filter.by ? { by: filter.by.join(',') } : {}),
      ...(filter.since ? { since: filter.since } : {}),
      ...(filter.until ? { until: filter.until } : {}),
    });
    return (await (await this.#request(`/v1/usage${query}`)).json()) as UsageReport;
  }

  async #request(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await this.#fetch(`${this.#baseUrl}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${this.#token}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => undefined)) as
        { error?: { code?: string; message?: string; path?: string } } | undefined;
      throw new ApiError(
        response.status,
        body?.error?.code ?? `HTTP_${response.status}`,
        body?.error?.message ?? `The server answered ${response.status}.`,
        body?.error?.path,
      );
    }
    return response;
  }

  async #follow(response: Response, handlers: StreamHandlers): Promise<ChatReply> {
    if (!response.body) throw new ApiError(response.status, 'STREAM_MISSING', 'The server sent no event stream.');
    let runId = '';
    let last: number | undefined;
    const ended = (reply: ChatReply): ChatReply => (last === undefined ? reply : { ...reply, lastEventId: last });
    for await (const message of parseServerSentEvents(response.body, handlers.signal)) {
      const event = JSON.parse(message.data) as RunEvent;
      runId = event.runId ?? runId;
      if (message.id !== undefined && Number.isFinite(Number(message.id))) last = Number(message.id);
      handlers.onEvent?.(event);
      if (event.type === 'token') handlers.onToken?.(event.text);
      else if (event.type === 'run.completed') return ended({ runId, status: 'completed', answer: event.answer });
      else if (event.type === 'run.failed') return ended({ runId, status: 'failed', error: event.reason });
      else if (event.type === 'run.held')
        return ended({
          runId,
          status: 'held',
          held: { approvalId: event.approvalId, kind: event.kind, name: event.name, args: event.args },
        });
      else if (event.type === 'run.status')
        return event.status === 'held'
          ? { runId, status: 'failed', error: 'The run is held but not followed by this server.' }
          : { runId, status: 'failed', error: `The run is ${event.status}; this server does not drive it.` };
      else if (event.type === 'server.closing')
        return { runId, status: 'failed', error: 'The server is shutting down; follow the run again to continue.' };
    }
    throw new ApiError(0, 'STREAM_ENDED', `The event stream of run ${runId || '(unknown)'} ended before the run did.`);
  }
}

/** A conversation with one copilot: send messages, stream tokens, see and follow holds. */
export class CopilotChat {
  readonly #client: AiFactoryClient;
  /** The agent this chat talks to. */
  readonly agent: string;
  /** Replies so far, oldest first. */
  readonly replies: ChatReply[] = [];

  constructor(client: AiFactoryClient, agent: string) {
    this.#client = client;
    this.agent = agent;
  }

  /** Sends a message; resolves when the reply is complete, failed or held for approval. */
  async send(message: string, handlers: StreamHandlers = {}): Promise<ChatReply> {
    const reply = await this.#client.ask(this.agent, message, handlers);
    this.replies.push(reply);
    return reply;
  }

  /** Where a held reply's approval is now. */
  status(reply: Extract<ChatReply, { status: 'held' }>): Promise<Approval> {
    return this.#client.approval(reply.held.approvalId);
  }

  /** Waits for a held reply's run to be decided and finish, streaming what follows. */
  async waitForDecision(reply: Extract<ChatReply, { status: 'held' }>, handlers: StreamHandlers = {}): Promise<ChatReply> {
    // Events up to the hold were seen already; follow from the run's next event onwards.
    const next = await this.#client.follow(reply.runId, { ...handlers, ...(reply.lastEventId ? { afterId: reply.lastEventId } : {}) });
    this.replies.push(next);
    return next;
  }
}
