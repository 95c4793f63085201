// The LLM gateway: apps call OpenAI Chat Completions or Anthropic Messages here with their
// official SDK and a factory token, and every request is a governed model action through the one
// chokepoint (execution's GovernanceGate): decided by the policy on the model, the token's team,
// the request's feature, data classifications and content; recorded write-ahead in the trace
// (policy.decided + model.requested in one durable commit) before anything leaves; masked when
// the decision obliges it; sent to the provider with the factory's credentials, with retries and
// fallback among the models the policy allows; and its answer, usage and cost recorded against
// the team and feature (model.responded), so `factory usage` sums it with agent runs.
import { compilePolicies, loadPolicyFiles, type PolicySet } from '@aifactory/control';
import { contentHash } from '@aifactory/core';
import {
  computeCost,
  findPrice,
  GovernanceGate,
  RunOwnership,
  type EventDraft,
  type ModelRegistry,
  type ProposedAction,
  type RuntimeNotifier,
  type Verdict,
} from '@aifactory/execution';
import { notifyObligation } from '@aifactory/execution/internal';
import type { PiiKind } from '@aifactory/knowledge/pii-masking';
import type { Store } from '@aifactory/store';
import { type Recorder, type Redactor } from '@aifactory/verification';
import { findRunsWhere } from '@aifactory/verification/internal';
import { withPlainHeaders } from '../answer-headers.ts';
import type { GatewayConfig, GatewayProvider } from './gateway-config.ts';
import { GatewayBudgets, GatewayRateLimits } from './gateway-limits.ts';
import { HeldRequests, approvalDetails, approvalHeader, heldMessage, type GatewayApprovals, type HeldRefusal } from './held-requests.ts';
import { PiiScanner } from './pii-scan.ts';
import { SessionRuns, gatewayAgent, type SessionRun } from './session-runs.ts';
import { callUpstream, EventRelay, readText, type UpstreamResponse, type UpstreamResult } from './upstream-call.ts';
import type { GatewayErrorKind, WireOutcome, WireProtocol } from './wire-protocols.ts';

/** Who is calling, as the server authenticated them. */
export interface GatewayCaller {
  /** Principal id of the token. */
  principal: string;
  /** Roles of the token; `team.<name>` names the team. */
  roles: string[];
}

/** One request as the routes hand it over. */
export interface GatewayRequest {
  caller: GatewayCaller;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  headers: Headers;
  /** Aborted when the app goes away. */
  signal: AbortSignal;
  /** Headers the server puts on the answer (its request id, lower-case names), so a whole answer is not copied to add them. */
  answerHeaders?: Readonly<Record<string, string>>;
}

/** Structured log sink (already redacting). */
export type GatewayLog = (line: Record<string, unknown>) => void;

/** What the gateway is built from. */
export interface LlmGatewayOptions {
  config: GatewayConfig;
  store: Store;
  recorder: Recorder;
  /** The workspace's approvals: a held request asks for one, and its retry uses it. */
  approvals: GatewayApprovals;
  /** The workspace redactor: provider error bodies are redacted before an app or a log sees them. */
  redactor?: Redactor;
  /** The workspace's notifier: a policy's notify targets are queued through it (absent: none are). */
  notify?: RuntimeNotifier;
  log?: GatewayLog;
  /**
   * The workspace's model registry (models/*.yaml), when it has one: policies see a request's
   * model entry as CEL `model`, and a fallback stands in only when it is registered and cleared
   * for the request's data classifications.
   */
  modelRegistry?: ModelRegistry;
  /** How long an answered request's outcome may wait for the session's next commit before it is written on its own (default 200 ms). */
  flushDelayMs?: number;
}

/** Header naming the feature a request is for. */
export const featureHeader = 'x-aifactory-feature';
/** Header naming the data classifications of a request (comma-separated, e.g. `pii,confidential`). */
export const classificationHeader = 'x-aifactory-data-classification';
/** Role prefix naming a token's team (`team.payments`). */
export const teamRolePrefix = 'team.';

const labelPattern = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/;
/** Redact obligations that mean "mask personal data in what is sent". */
const maskingFields = new Set(['content', 'messages']);

/** What an answer's record needs to know of its request. */
interface OutcomeContext {
  run: SessionRun;
  step: number;
  protocol: WireProtocol;
  provider: GatewayProvider;
  model: string;
  /** performance.now() when the request arrived. */
  started: number;
  attempts: number;
  fallbackUsed: boolean;
  team: string | null;
  feature: string | null;
  /** What was masked, when the decision obliged masking. */
  masked: Partial<Record<PiiKind, number>> | undefined;
}

/** A request validated, with what the policy is asked about. */
interface Prepared {
  team: string | null;
  feature: string | null;
  /** The `provider:model` asked for. */
  id: string;
  /** The body as it goes out unmasked, and masked. */
  outgoing: Record<string, unknown>;
  masked: Record<string, unknown>;
  /** Personal data found, by kind. */
  found: Partial<Record<PiiKind, number>>;
  classifications: string[];
  stream: boolean;
  /** The model action's arguments, before provider and model are added. */
  baseArgs: Record<string, unknown> & { content: string };
}

const relays = new WeakMap<Response, { relay: EventRelay; headers: Record<string, string> }>();

/**
 * The relay of a streamed answer, with its headers, for a server that writes it straight to Node's
 * response instead of reading the answer's web stream (which is then never read).
 */
export function eventRelayOf(answer: Response): { relay: EventRelay; headers: Record<string, string> } | undefined {
  return relays.get(answer);
}

/** The team a token belongs to: its first `team.<name>` role. */
export function teamOf(roles: readonly string[]): string | null {
  const role = roles.find((candidate) => candidate.startsWith(teamRolePrefix) && candidate.length > teamRolePrefix.length);
  return role ? role.slice(teamRolePrefix.length) : null;
}

/** The governed LLM gateway. */
export class LlmGateway {
  readonly config: GatewayConfig;
  readonly #store: Store;
  readonly #recorder: Recorder;
  readonly #redactor: Redactor | undefined;
  readonly #log: GatewayLog;
  readonly #ownership: RunOwnership;
  readonly #gate: GovernanceGate;
  readonly #sessions: SessionRuns;
  readonly #held: HeldRequests;
  readonly #budgets: GatewayBudgets;
  readonly #rates: GatewayRateLimits;
  readonly #policies: PolicySet;
  readonly #flushDelayMs: number;
  readonly #flushTimers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #sweeper: ReturnType<typeof setInterval>;
  readonly #secrets: string[];
  readonly #registry: ModelRegistry | undefined;
  readonly #pii = new PiiScanner();
  #closing = false;

  private constructor(options: LlmGatewayOptions, policies: PolicySet) {
    this.config = options.config;
    this.#store = options.store;
    this.#recorder = options.recorder;
    this.#redactor = options.redactor;
    this.#log = options.log ?? (() => undefined);
    this.#policies = policies;
    this.#flushDelayMs = options.flushDelayMs ?? 200;
    this.#registry = options.modelRegistry;
    this.#ownership = new RunOwnership({ store: options.store });
    const recorder = options.recorder;
    // Every append of a session run carries this process's lease epoch (a fence).
    this.#gate = new GovernanceGate({
      policies: () => this.#policies,
      recorder: {
        recordBatch: (runId, events) => recorder.recordBatch(runId, events, { ...fenceOf(this.#ownership, runId) }),
      },
      ...(options.notify ? { obligations: { notify: notifyObligation(options.notify) } } : {}),
      ...(options.modelRegistry ? { modelEntry: (id: string) => options.modelRegistry!.entry(id) } : {}),
    });
    this.#sessions = new SessionRuns({
      recorder,
      ownership: this.#ownership,
      limits: options.config.session,
      onRetire: (run) => this.#retire(run),
    });
    this.#held = new HeldRequests({
      store: options.store,
      recorder,
      approvals: options.approvals,
      ownership: this.#ownership,
      gate: this.#gate,
      sessions: this.#sessions,
      expiresInMs: options.config.approvals.expiresInMs,
      claimWithinMs: options.config.approvals.expiresInMs,
    });
    this.#budgets = new GatewayBudgets(options.store, options.config.budgets);
    this.#rates = new GatewayRateLimits(options.config.rateLimits);
    this.#secrets = Object.values(options.config.providers).flatMap((provider) =>
      provider.apiKey && provider.apiKey.length >= 6 ? [provider.apiKey] : [],
    );
    this.#sweeper = setInterval(() => {
      this.#sessions.sweep();
      this.#track(
        this.#held
          .sweep()
          .catch((error: unknown) =>
            this.#log({ event: 'gateway.held_sweep_failed', error: error instanceof Error ? error.message : String(error) }),
          ),
      );
    }, 60_000);
    this.#sweeper.unref();
  }

  /** Builds the gateway, loading its policies (a policy that does not load is an error now, not a denial later). */
  static async open(options: LlmGatewayOptions): Promise<LlmGateway> {
    const policies =
      options.config.policyFiles.length > 0 ? compilePolicies(await loadPolicyFiles(options.config.policyFiles)) : compilePolicies([]);
    const gateway = new LlmGateway(options, policies);
    await gateway.#sealOrphans();
    // Held requests a stopped gateway left settled but unclaimed are ended now, not in a minute.
    await gateway.#held
      .sweep()
      .catch((error: unknown) =>
        gateway.#log({ event: 'gateway.held_sweep_failed', error: error instanceof Error ? error.message : String(error) }),
      );
    return gateway;
  }

  /**
   * Session runs a gateway process left open when it died (their lease lapsed) are taken over and
   * sealed as failed: nothing continues a session, and a request it recorded as sent without an
   * answer stays visible as such. Runs another live gateway holds are left alone.
   */
  async #sealOrphans(): Promise<void> {
    const open = await findRunsWhere(this.#store, { agent: gatewayAgent, status: 'running' });
    for (const { id } of open) {
      try {
        const epoch = await this.#ownership.takeOver(id);
        if (epoch === undefined) continue;
        await this.#recorder.finishRun(
          id,
          {
            status: 'failed',
            payload: {
              error:
                'The gateway process serving this session ended before sealing it; a model.requested without its model.responded was in flight then.',
            },
          },
          { fence: { epoch } },
        );
        this.#ownership.forget(id);
      } catch (error) {
        this.#log({ event: 'gateway.orphan_failed', run: id, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  /** Handles one request of `protocol`; always answers in that protocol's shape. */
  async handle(protocol: WireProtocol, request: GatewayRequest): Promise<Response> {
    if (this.#closing)
      return gatewayErrorResponse(
        protocol,
        'upstream',
        'The gateway is shutting down; retry against another instance.',
        { 'retry-after': '1' },
        503,
      );
    const work = this.#handle(protocol, request);
    this.#track(work);
    return work;
  }

  /** Validates a request and works out what the policy is asked about; an error Response when it cannot go on. */
  #prepare(protocol: WireProtocol, request: GatewayRequest): Prepared | Response {
    const { body, caller } = request;
    const shapeProblem = protocol.problem(body);
    if (shapeProblem) return gatewayErrorResponse(protocol, 'invalid_request', shapeProblem);
    const team = teamOf(caller.roles);
    const featureValue = request.headers.get(featureHeader) ?? metadataFeature(body);
    if (featureValue !== undefined && !labelPattern.test(featureValue)) {
      return gatewayErrorResponse(
        protocol,
        'invalid_request',
        `The feature '${featureValue.slice(0, 80)}' is not valid; name it with letters, digits and . _ : / - (at most 100 characters) in the ${featureHeader} header.`,
      );
    }
    const feature = featureValue ?? null;
    const declared = (request.headers.get(classificationHeader) ?? '')
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .filter(Boolean);
    if (declared.some((item) => !labelPattern.test(item)))
      return gatewayErrorResponse(
        protocol,
        'invalid_request',
        `The ${classificationHeader} header lists classifications such as pii,confidential (letters, digits and . _ : / -).`,
      );
    const requested = body.model as string;
    const resolved = this.#resolve(protocol, requested);
    if ('problem' in resolved) return gatewayErrorResponse(protocol, resolved.kind, resolved.problem);
    // What leaves: the app's body without the gateway's own metadata; PII is found once, and the
    // masked copy is what goes out if the decision obliges masking.
    const outgoing = withoutGatewayMetadata(body);
    const found: Partial<Record<PiiKind, number>> = {};
    const texts: string[] = [];
    const masked = protocol.mapTexts(outgoing, (text) => {
      texts.push(text);
      const result = this.#pii.mask(text);
      for (const [kind, count] of Object.entries(result.counts)) found[kind as PiiKind] = (found[kind as PiiKind] ?? 0) + count;
      return result.text;
    });
    const classifications = [...new Set([...declared, ...(Object.keys(found).length > 0 ? ['pii'] : [])])].sort();
    const stream = body.stream === true;
    const baseArgs = {
      endpoint: protocol.endpoint,
      requested_model: requested,
      team,
      feature,
      stream,
      message_count: (body.messages as unknown[]).length,
      tools: protocol.toolNames(body),
      classifications,
      content: texts.join('\n'),
    };
    return { team, feature, id: resolved.id, outgoing, masked, found, classifications, stream, baseArgs };
  }

  async #handle(protocol: WireProtocol, request: GatewayRequest): Promise<Response> {
    const started = performance.now();
    const { caller } = request;
    const prepared = this.#prepare(protocol, request);
    if (prepared instanceof Response) return prepared;
    const { team, feature, outgoing, masked, found, classifications, stream, baseArgs } = prepared;
    const resolved = { id: prepared.id };
    const rate = this.#rates.take(team, feature);
    if (rate.limited) {
      this.#log({ event: 'gateway.rate_limited', principal: caller.principal, team, feature, limit: rate.limit });
      return gatewayErrorResponse(protocol, 'rate_limit', `Rate limit reached (${rate.limit}); retry after ${rate.retryAfterSeconds} s.`, {
        'retry-after': String(rate.retryAfterSeconds),
      });
    }
    const approvalId = request.headers.get(approvalHeader);
    if (approvalId !== null) return this.#handleApproved(protocol, request, prepared, approvalId.trim(), started);
    const run = await this.#sessions.acquire({ principal: caller.principal, team, feature });
    const step = (run.step += 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#sessions.release(run);
    };
    try {
      const crossing = await this.#budgets.crossing(team, feature);
      if (crossing) {
        this.#cancelFlush(run.runId);
        await this.#gate.commit(run.runId, [
          {
            type: 'budget.exceeded',
            actor: gatewayAgent,
            payload: { step, limit: crossing.limit, value: crossing.value, max: crossing.max, team, feature },
          },
        ]);
        release();
        return gatewayErrorResponse(
          protocol,
          'budget',
          `Budget spent (${crossing.limit}; ${crossing.value} USD so far); the gateway takes no more requests for it this period.`,
          { 'x-should-retry': 'false', ...runHeaders(run, step) },
        );
      }

      // With a model registry, only registered models cleared for the request's data stand in;
      // the others are never asked, and why is recorded with the failure they would have covered.
      const skipped: Array<{ model: string; reason: string }> = [];
      const fallbacks = (this.config.fallbacks[resolved.id] ?? []).filter((id) => {
        const reason = this.#notEligible(id, classifications);
        if (reason) skipped.push({ model: id, reason });
        return reason === undefined;
      });
      const candidates = [resolved.id, ...fallbacks];
      let lastFailure: Extract<UpstreamResult, { kind: 'failed' }> | undefined;
      let firstDenial: Verdict | undefined;
      let attempts = 0;
      let fallbackReason: string | undefined;
      for (const [index, id] of candidates.entries()) {
        const target = splitId(id);
        const provider = this.config.providers[target.provider]!;
        const proposed: ProposedAction = {
          kind: 'model',
          name: id,
          args: {
            ...baseArgs,
            provider: target.provider,
            model: target.model,
            ...(index > 0 ? { fallback_for: resolved.id, reason: fallbackReason } : {}),
            ...(index > 0 && skipped.length > 0 ? { fallbacks_skipped: skipped } : {}),
          },
        };
        this.#cancelFlush(run.runId);
        const verdict = await this.#gate.govern(this.#runContext(run, caller, team, classifications), step, proposed, (recordedArgs) => ({
          type: 'model.requested',
          actor: gatewayAgent,
          payload: {
            step,
            endpoint: protocol.endpoint,
            provider: target.provider,
            model: target.model,
            team,
            feature,
            request_hash: contentHash(outgoing),
            ...(recordedArgs.content !== baseArgs.content ? { content_masked: true } : {}),
          },
        }));
        if (verdict.kind === 'hold' && index === 0) {
          this.#cancelFlush(run.runId);
          const approval = await this.#held.hold(
            run,
            step,
            caller.principal,
            proposed,
            verdict.decision,
            obligesMasking(verdict.decision),
            { endpoint: protocol.endpoint, team, feature },
          );
          released = true;
          return gatewayErrorResponse(
            protocol,
            'permission',
            heldMessage(id, verdict.decision, approval),
            { ...runHeaders(run, step), [approvalHeader]: approval.id, 'x-should-retry': 'false' },
            undefined,
            'approval_required',
            approvalDetails(approval),
          );
        }
        if (verdict.kind !== 'execute') {
          firstDenial ??= verdict;
          if (index === 0) break;
          continue;
        }
        const mask = obligesMasking(verdict.decision);
        const { body: upstreamBody, dropUsage } = protocol.upstreamBody(mask ? masked : outgoing, target.model);
        const result = await callUpstream(
          protocol.upstreamUrl(provider),
          protocol.upstreamHeaders(provider, request.headers),
          JSON.stringify(upstreamBody),
          this.config,
          request.signal,
        );
        attempts += result.attempts;
        if (result.kind === 'answered') {
          const context = {
            run,
            step,
            protocol,
            provider,
            model: target.model,
            started,
            attempts,
            fallbackUsed: index > 0,
            team,
            feature,
            masked: mask ? found : undefined,
          };
          return await this.#deliver(context, result.response, {
            stream,
            dropUsage,
            answeredBy: id,
            release,
            answerHeaders: request.answerHeaders,
          });
        }
        lastFailure = result;
        this.#gate.defer(run.runId, {
          type: 'model.failed',
          actor: gatewayAgent,
          payload: {
            step,
            provider: target.provider,
            model: target.model,
            error: `${id} failed after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}: ${result.what}`,
            attempts: result.attempts,
            ...(result.unavailable && skipped.length > 0 ? { fallbacks_skipped: skipped } : {}),
          },
        });
        if (!result.unavailable) break;
        fallbackReason = `${id} ${result.what}`;
      }
      this.#scheduleFlush(run.runId);
      release();
      if (lastFailure) return this.#failureResponse(protocol, lastFailure, attempts, run, step);
      return this.#denialResponse(protocol, firstDenial!, run, step);
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * A retry carrying the approval its request was held for (held-requests.ts): refused while the
   * approval is pending, rejected, used or given for another request; approved, the held run is
   * taken over, the approval consumed, model.requested committed, and the request sent to the
   * model approved (no fallback: another model would be another request); the run then ends.
   */
  async #handleApproved(
    protocol: WireProtocol,
    request: GatewayRequest,
    prepared: Prepared,
    approvalId: string,
    started: number,
  ): Promise<Response> {
    const { team, feature, outgoing, masked, found, stream, baseArgs } = prepared;
    const target = splitId(prepared.id);
    const provider = this.config.providers[target.provider]!;
    const proposed: ProposedAction = {
      kind: 'model',
      name: prepared.id,
      args: { ...baseArgs, provider: target.provider, model: target.model },
    };
    const claim = await this.#held.claim(approvalId, request.caller.principal, proposed);
    if (claim.kind === 'refused') return refusalResponse(protocol, claim);
    const { run, approval } = claim;
    const step = approval.step;
    try {
      const crossing = approval.outcome === 'approved' ? await this.#budgets.crossing(team, feature) : undefined;
      if (crossing) {
        await this.#gate.commit(run.runId, [
          {
            type: 'budget.exceeded',
            actor: gatewayAgent,
            payload: { step, limit: crossing.limit, value: crossing.value, max: crossing.max, team, feature, approval_id: approval.id },
          },
        ]);
        await this.#held.putBack(run);
        return gatewayErrorResponse(
          protocol,
          'budget',
          `Budget spent (${crossing.limit}; ${crossing.value} USD so far); approval ${approval.id} stays unused until the budget allows the request.`,
          { 'x-should-retry': 'false', ...runHeaders(run, step) },
        );
      }
    } catch (error) {
      await this.#held.putBack(run).catch(() => undefined);
      throw error;
    }
    const used = await this.#held.consume(claim);
    if (used.kind === 'refused') return refusalResponse(protocol, used);
    const end = (payload: Record<string, unknown>) => {
      this.#cancelFlush(run.runId);
      this.#track(
        this.#held
          .end(run, { approval_id: approval.id, ...payload })
          .catch((error: unknown) =>
            this.#log({ event: 'gateway.retire_failed', run: run.runId, error: error instanceof Error ? error.message : String(error) }),
          ),
      );
    };
    try {
      const mask = approval.context['mask'] === true;
      await this.#gate.commit(run.runId, [
        {
          type: 'model.requested',
          actor: gatewayAgent,
          payload: {
            step,
            endpoint: protocol.endpoint,
            provider: target.provider,
            model: target.model,
            team,
            feature,
            request_hash: contentHash(outgoing),
            approval_id: approval.id,
            ...(mask ? { content_masked: true } : {}),
          },
        },
      ]);
      const { body: upstreamBody, dropUsage } = protocol.upstreamBody(mask ? masked : outgoing, target.model);
      const result = await callUpstream(
        protocol.upstreamUrl(provider),
        protocol.upstreamHeaders(provider, request.headers),
        JSON.stringify(upstreamBody),
        this.config,
        request.signal,
      );
      if (result.kind === 'answered') {
        const context = {
          run,
          step,
          protocol,
          provider,
          model: target.model,
          started,
          attempts: result.attempts,
          fallbackUsed: false,
          team,
          feature,
          masked: mask ? found : undefined,
        };
        return await this.#deliver(context, result.response, {
          stream,
          dropUsage,
          answeredBy: prepared.id,
          release: () => end({ held_request: 'answered' }),
          answerHeaders: request.answerHeaders,
        });
      }
      this.#gate.defer(run.runId, {
        type: 'model.failed',
        actor: gatewayAgent,
        payload: {
          step,
          provider: target.provider,
          model: target.model,
          error: `${prepared.id} failed after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}: ${result.what}`,
          attempts: result.attempts,
          approval_id: approval.id,
        },
      });
      end({ held_request: 'failed upstream' });
      return this.#failureResponse(protocol, result, result.attempts, run, step);
    } catch (error) {
      end({ held_request: 'failed', error: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  }

  /** Keeps a background write in the set close() waits for. */
  #track(work: Promise<unknown>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work)).catch(() => undefined);
  }

  /** Passes the provider's answer to the app (streamed event by event, or whole) and records what it said. */
  async #deliver(
    context: OutcomeContext,
    response: UpstreamResponse,
    options: {
      stream: boolean;
      dropUsage: boolean;
      answeredBy: string;
      release: () => void;
      answerHeaders: Readonly<Record<string, string>> | undefined;
    },
  ): Promise<Response> {
    const { protocol } = context;
    const headers = { ...runHeaders(context.run, context.step), 'x-aifactory-model': options.answeredBy };
    if (options.stream) {
      const relay = new EventRelay(response.body, protocol.streamReader(options.dropUsage), (outcome, error) => {
        this.#recordOutcome(context, outcome, error);
        options.release();
      });
      // Transfer-Encoding: chunked tells @hono/node-server this body is a stream to pass on as it
      // comes: without it, the server first tries to read a body's first chunks to give it a
      // Content-Length, waiting a timer tick (a millisecond or more) when the second chunk is not
      // there yet, and an answer streamed event by event then reaches the app all at once at its end.
      const streamHeaders = {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'transfer-encoding': 'chunked',
        ...headers,
      };
      const answer = new Response(relay.toWeb(), { status: 200, headers: streamHeaders });
      relays.set(answer, { relay, headers: streamHeaders });
      return answer;
    }
    let text: string;
    try {
      text = await readText(response.body);
    } catch (error) {
      // The provider's answer broke off: what was asked stays on the record with why it has no answer.
      const what = `the answer broke off (${error instanceof Error ? error.message : String(error)})`;
      this.#recordOutcome(context, { content: '', toolCalls: [], finishReason: null }, what);
      options.release();
      return gatewayErrorResponse(protocol, 'upstream', `The model provider's ${what}.`, headers);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    this.#recordOutcome(
      context,
      parsed === undefined ? { content: '', toolCalls: [], finishReason: null } : protocol.outcomeOf(parsed),
      parsed === undefined ? 'the provider answered with a body that is not JSON' : undefined,
    );
    options.release();
    // The server's own headers (its request id) go in the record the answer is built from, which
    // is noted, so the request middleware reads them there and writes nothing into the answer.
    const answerHeaders = { 'content-type': response.contentType ?? 'application/json', ...headers, ...options.answerHeaders };
    return withPlainHeaders(new Response(text, { status: 200, headers: answerHeaders }), answerHeaders);
  }

  /** Waits for requests in flight, then seals every session run. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    await Promise.allSettled([...this.#inFlight]);
    for (const timer of this.#flushTimers.values()) clearTimeout(timer);
    this.#flushTimers.clear();
    await this.#sessions.closeAll();
    this.#ownership.close();
  }

  /** Writes every outcome still waiting for its session's next commit (tests, shutdown). */
  async flush(): Promise<void> {
    const runs = [...this.#flushTimers.keys()];
    for (const runId of runs) this.#cancelFlush(runId);
    await Promise.all(runs.map((runId) => this.#gate.flush(runId)));
  }

  #resolve(protocol: WireProtocol, requested: string): { id: string } | { kind: GatewayErrorKind; problem: string } {
    const alias = Object.hasOwn(this.config.models, requested) ? this.config.models[requested] : undefined;
    let id = alias;
    if (!id) {
      const colon = requested.indexOf(':');
      const prefix = colon > 0 ? requested.slice(0, colon) : '';
      id = prefix && Object.hasOwn(this.config.providers, prefix) ? requested : `${protocol.wire}:${requested}`;
    }
    const target = splitId(id);
    const provider = Object.hasOwn(this.config.providers, target.provider) ? this.config.providers[target.provider] : undefined;
    if (!provider)
      return {
        kind: 'not_found',
        problem: `Model '${requested}' names no configured provider; providers: ${Object.keys(this.config.providers).join(', ')}.`,
      };
    if (provider.wire !== protocol.wire) {
      const other = provider.wire === 'openai' ? '/gateway/openai/v1/chat/completions' : '/gateway/anthropic/v1/messages';
      return {
        kind: 'invalid_request',
        problem: `Model '${requested}' is served by provider '${provider.name}', which speaks the ${provider.wire === 'openai' ? 'OpenAI Chat Completions' : 'Anthropic Messages'} protocol; call it at ${other}.`,
      };
    }
    return { id };
  }

  /** Why `id` may not stand in as a fallback (undefined: it may): unregistered, or not cleared for the request's data. */
  #notEligible(id: string, classifications: readonly string[]): string | undefined {
    if (!this.#registry) return undefined;
    const model = this.#registry.find(id);
    if (!model) return `${id} is not in the model registry (models/*.yaml), so it was not called`;
    const uncleared = classifications.filter((classification) => !model.classifications.includes(classification));
    if (uncleared.length > 0)
      return `${id} is not cleared for ${uncleared.join(', ')} data (its registry entry ${model.name} lists ${model.classifications.join(', ') || 'none'}), so it was not called`;
    return undefined;
  }

  #runContext(run: SessionRun, caller: GatewayCaller, team: string | null, classifications: string[]) {
    return {
      runId: run.runId,
      agent: { id: gatewayAgent, ...(team ? { team } : {}) },
      principal: { id: caller.principal, roles: caller.roles },
      counters: { steps: run.step - 1, tool_calls: 0, tokens: run.tokens, cost_usd: run.costUsd },
      startedAtMs: run.startedAtMs,
      classifications,
    };
  }

  #recordOutcome(context: OutcomeContext, outcome: WireOutcome, error: string | undefined): void {
    const { run, step, provider, model } = context;
    const usage = outcome.usage ?? { inputTokens: 0, outputTokens: 0 };
    const price = findPrice(this.config.prices, provider.name, model);
    const costUsd = price ? computeCost(price, usage.inputTokens, usage.outputTokens) : 0;
    run.tokens += usage.inputTokens + usage.outputTokens;
    run.costUsd += costUsd;
    this.#budgets.add(context.team, context.feature, costUsd);
    const failure = error ?? outcome.streamError;
    const event: EventDraft = {
      type: 'model.responded',
      actor: gatewayAgent,
      payload: {
        step,
        provider: provider.name,
        model,
        content: outcome.content,
        tool_calls: outcome.toolCalls,
        usage: { ...usage, ...(outcome.usage ? {} : { estimated: true }) },
        cost_usd: costUsd,
        priced: price !== undefined,
        finish_reason: outcome.finishReason,
        latency_ms: Math.round(performance.now() - context.started),
        attempts: context.attempts,
        fallback_used: context.fallbackUsed,
        ...(context.masked ? { masked: context.masked } : {}),
        ...(failure ? { incomplete: failure } : {}),
      },
    };
    this.#gate.defer(run.runId, event);
    this.#scheduleFlush(run.runId);
  }

  #scheduleFlush(runId: string): void {
    if (this.#flushTimers.has(runId)) return;
    const timer = setTimeout(() => {
      this.#flushTimers.delete(runId);
      const flushing = this.#gate
        .flush(runId)
        .catch((error: unknown) =>
          this.#log({ event: 'gateway.record_failed', run: runId, error: error instanceof Error ? error.message : String(error) }),
        );
      this.#inFlight.add(flushing);
      void flushing.finally(() => this.#inFlight.delete(flushing));
    }, this.#flushDelayMs);
    this.#flushTimers.set(runId, timer);
  }

  /** The next commit of the run carries whatever is deferred, so its timer is not needed. */
  #cancelFlush(runId: string): void {
    const timer = this.#flushTimers.get(runId);
    if (timer) clearTimeout(timer);
    this.#flushTimers.delete(runId);
  }

  async #retire(run: SessionRun): Promise<void> {
    this.#cancelFlush(run.runId);
    try {
      await this.#gate.flush(run.runId);
      await this.#recorder.finishRun(
        run.runId,
        { status: 'completed', payload: { requests: run.requests, reason: this.#closing ? 'shutdown' : 'session retired' } },
        { ...fenceOf(this.#ownership, run.runId) },
      );
      this.#ownership.forget(run.runId);
    } catch (error) {
      this.#log({ event: 'gateway.retire_failed', run: run.runId, error: error instanceof Error ? error.message : String(error) });
    }
  }

  #failureResponse(
    protocol: WireProtocol,
    failure: Extract<UpstreamResult, { kind: 'failed' }>,
    attempts: number,
    run: SessionRun,
    step: number,
  ): Response {
    const headers: Record<string, string> = { ...runHeaders(run, step), ...(attempts > 1 ? { 'x-should-retry': 'false' } : {}) };
    // The provider's own error, in the protocol's shape, passes through (keys redacted): the app
    // sees what it would have seen calling the provider, after the gateway's retries and fallbacks.
    if (failure.status !== undefined && failure.bodyText) {
      return new Response(this.#redact(failure.bodyText), {
        status: failure.status,
        headers: { 'content-type': failure.contentType ?? 'application/json', ...headers },
      });
    }
    return gatewayErrorResponse(
      protocol,
      'upstream',
      `The model provider could not be reached after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${this.#redact(failure.what)}.`,
      headers,
    );
  }

  #denialResponse(protocol: WireProtocol, verdict: Verdict, run: SessionRun, step: number): Response {
    const hint =
      this.config.policyFiles.length === 0
        ? ' No policy governs gateway traffic yet: add policies to <policies>/gateway or name them under `policies:` in the gateway configuration.'
        : '';
    const message =
      verdict.kind === 'hold'
        ? `The fallback model call '${verdict.decision.rules[0] ? `${verdict.decision.rules[0].policy}/${verdict.decision.rules[0].ruleId}` : 'default'}' holds for approval, which a fallback does not wait for: ${verdict.decision.reason}`
        : verdict.kind === 'deny'
          ? verdict.message
          : verdict.decision.reason;
    return gatewayErrorResponse(
      protocol,
      'permission',
      `${message}${hint}`,
      runHeaders(run, step),
      undefined,
      verdict.kind === 'hold' ? 'approval_required' : 'policy_denied',
    );
  }

  #redact(text: string): string {
    let result = text;
    for (const secret of this.#secrets) result = result.split(secret).join('[redacted]');
    result = result.replace(/\b(sk|key)-[A-Za-z0-9_-]{8,}/g, '$1-[redacted]');
    return this.#redactor ? String(this.#redactor.redact(result).value) : result;
  }
}

function fenceOf(ownership: RunOwnership, runId: string): { fence?: { epoch: number } } {
  const fence = ownership.fence(runId);
  return fence ? { fence } : {};
}

function splitId(id: string): { provider: string; model: string } {
  const colon = id.indexOf(':');
  return { provider: id.slice(0, colon), model: id.slice(colon + 1) };
}

function runHeaders(run: SessionRun, step: number): Record<string, string> {
  return { 'x-aifactory-run': run.runId, 'x-aifactory-step': String(step) };
}

/** The feature named in the body's metadata (`metadata.feature`), which never goes upstream. */
function metadataFeature(body: Record<string, unknown>): string | undefined {
  const metadata = body.metadata;
  return metadata &&
    typeof metadata === 'object' &&
    !Array.isArray(metadata) &&
    typeof (metadata as Record<string, unknown>).feature === 'string'
    ? ((metadata as Record<string, unknown>).feature as string)
    : undefined;
}

function withoutGatewayMetadata(body: Record<string, unknown>): Record<string, unknown> {
  if (metadataFeature(body) === undefined) return body;
  const { feature: _feature, ...rest } = body.metadata as Record<string, unknown>;
  const copy = { ...body };
  if (Object.keys(rest).length > 0) copy.metadata = rest;
  else delete copy.metadata;
  return copy;
}

/** Whether a decision obliges masking personal data in what is sent. */
function obligesMasking(decision: Verdict['decision']): boolean {
  return decision.obligations.redact.some((field) => maskingFields.has(field.replace(/^(action\.)?args\./, '')));
}

/** A held request's retry refused, in the protocol's shape, with the approval it named. */
function refusalResponse(protocol: WireProtocol, refusal: HeldRefusal): Response {
  const { approval } = refusal;
  const headers: Record<string, string> = {
    ...(approval ? { [approvalHeader]: approval.id, 'x-aifactory-run': approval.runId, 'x-aifactory-step': String(approval.step) } : {}),
    'x-should-retry': refusal.status === 409 ? 'true' : 'false',
    ...refusal.headers,
  };
  return gatewayErrorResponse(
    protocol,
    refusal.errorKind,
    refusal.message,
    headers,
    refusal.status,
    refusal.code,
    approval ? approvalDetails(approval) : undefined,
  );
}

/** An error in the protocol's shape; `extra` adds fields to its error object (e.g. the approval). */
export function gatewayErrorResponse(
  protocol: WireProtocol,
  kind: GatewayErrorKind,
  message: string,
  headers: Record<string, string> = {},
  status?: number,
  code?: string,
  extra?: Record<string, unknown>,
): Response {
  const error = protocol.error(kind, message, code, extra);
  return new Response(JSON.stringify(error.body), {
    status: status ?? error.status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}
