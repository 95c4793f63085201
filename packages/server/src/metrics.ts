// Prometheus metrics of a serving process (prom-client, one registry per server). The durable
// trace is the source: a recorder wrapper watches what the runtime records (policy.decided,
// model.responded, budget.exceeded, approval outcomes, run starts and ends), so every figure
// matches an event an auditor can find. Figures that span processes (runs a CLI or a worker made)
// are read from the store when scraped.
import { pendingApprovalStats } from '@aifactory/execution/approvals';
import type { Store } from '@aifactory/store';
import { countRuns, type Recorder } from '@aifactory/verification';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The metrics a server exposes at /metrics. */
export interface ServerMetrics {
  registry: Registry;
  /** One per decision, under the authority that decided. */
  decisions: Counter<'authority' | 'kind'>;
  /** One per rule that applied to a decision, under that rule's own authority. */
  ruleMatches: Counter<'authority' | 'rule'>;
  /** The seed's ai_autonomy_boundary_violations: deny, budget breach, rejection, expiry. */
  boundaryViolations: Counter<'agent' | 'kind' | 'rule'>;
  decisionLatency: Histogram<'authority'>;
  /** The seed's ai_inference_latency: model call latency as the gateway measured it. */
  modelLatency: Histogram<'provider' | 'model'>;
  tokens: Counter<'team' | 'feature' | 'agent' | 'model' | 'direction'>;
  cost: Counter<'team' | 'feature' | 'agent' | 'model'>;
  feedback: Counter<'agent' | 'sentiment'>;
  runDuration: Histogram<'agent' | 'status'>;
  runsStarted: Counter<'agent'>;
  traceWriteLatency: Histogram;
  timeToApprove: Histogram<'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  authDecisions: Counter<'outcome' | 'reason'>;
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Model calls: a slow LLM answer takes minutes, so the buckets reach 10 minutes, not 10 s. */
const inferenceBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

/**
 * prom-client's default Node.js gauges whose names end in _total, which Prometheus reserves for
 * counters (`promtool check metrics` refuses them); its `nodejs_active_resources{type}` gauge,
 * kept, carries the same figures.
 */
const gaugesNamedLikeCounters = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Creates the registry and its metrics; approvals and run gauges read the store when scraped. */
export function createServerMetrics(options: { store?: Store; defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: 'aifactory_' });
    for (const name of gaugesNamedLikeCounters) registry.removeSingleMetric(`aifactory_${name}`);
  }
  const metrics: ServerMetrics = {
    registry,
    decisions: new Counter({
      name: 'aifactory_decisions_total',
      help: 'Policy decisions by the authority that decided and the action kind, one per decision.',
      labelNames: ['authority', 'kind'],
      registers,
    }),
    ruleMatches: new Counter({
      name: 'aifactory_decision_rule_matches_total',
      help: 'Rules that applied to a decision, by the rule and its own authority (rule="none" when the default decided).',
      labelNames: ['authority', 'rule'],
      registers,
    }),
    boundaryViolations: new Counter({
      name: 'aifactory_ai_autonomy_boundary_violations_total',
      help: 'Autonomy boundary violations: a denied action, a budget breach, a rejected or an expired approval.',
      labelNames: ['agent', 'kind', 'rule'],
      registers,
    }),
    decisionLatency: new Histogram({
      name: 'aifactory_decision_latency_seconds',
      help: 'Time to make a decision durable (the write-ahead policy.decided record, decide() included).',
      labelNames: ['authority'],
      buckets: latencyBuckets,
      registers,
    }),
    modelLatency: new Histogram({
      name: 'aifactory_ai_inference_latency_seconds',
      help: 'Model call latency as the gateway measured it.',
      labelNames: ['provider', 'model'],
      buckets: inferenceBuckets,
      registers,
    }),
    tokens: new Counter({
      name: 'aifactory_model_tokens_total',
      help: 'Model tokens by team, feature, agent, model and direction (input/output).',
      labelNames: ['team', 'feature', 'agent', 'model', 'direction'],
      registers,
    }),
    cost: new Counter({
      name: 'aifactory_model_cost_usd_total',
      help: 'Model cost in USD by team, feature, agent and model.',
      labelNames: ['team', 'feature', 'agent', 'model'],
      registers,
    }),
    runDuration: new Histogram({
      name: 'aifactory_run_duration_seconds',
      help: 'Run durations from start to completion or failure (held time included).',
      labelNames: ['agent', 'status'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
      registers,
    }),
    runsStarted: new Counter({ name: 'aifactory_runs_started_total', help: 'Runs started by agent.', labelNames: ['agent'], registers }),
    feedback: new Counter({
      name: 'aifactory_feedback_total',
      help: "Users' feedback on runs by the agent that made the run and sentiment (positive, neutral, negative).",
      labelNames: ['agent', 'sentiment'],
      registers,
    }),
    traceWriteLatency: new Histogram({
      name: 'aifactory_trace_write_seconds',
      help: 'Trace write lag: time for a batch of events to become durable.',
      buckets: latencyBuckets,
      registers,
    }),
    timeToApprove: new Histogram({
      name: 'aifactory_approval_decision_seconds',
      help: 'Time from an approval request to its decision.',
      labelNames: ['outcome'],
      buckets: [1, 10, 60, 300, 1800, 3600, 14_400, 86_400],
      registers,
    }),
    httpRequests: new Counter({
      name: 'aifactory_http_requests_total',
      help: 'HTTP requests by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    authDecisions: new Counter({
      name: 'aifactory_auth_decisions_total',
      help: 'Authentication and authorisation decisions.',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
  };
  const store = options.store;
  if (store) {
    new Gauge({
      name: 'aifactory_runs',
      help: 'Runs in the store by agent and status, whichever process made them (read from the store when scraped).',
      labelNames: ['agent', 'status'],
      registers,
      async collect() {
        this.reset();
        for (const { agent, status, count: value } of await countRuns(store)) this.set({ agent, status }, value);
      },
    });
    new Gauge({
      name: 'aifactory_approvals_pending',
      help: 'Approvals waiting for a decision.',
      registers,
      async collect() {
        this.set((await pendingApprovalStats(store)).pending);
      },
    });
    new Gauge({
      name: 'aifactory_approvals_oldest_pending_age_seconds',
      help: 'Age of the oldest pending approval (0 when none).',
      registers,
      async collect() {
        const oldest = (await pendingApprovalStats(store)).oldestRequestedAt;
        this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
      },
    });
  }
  return metrics;
}

interface RunLabels {
  agent: string;
  team: string;
  /** The product feature the run's cost is attributed to ('none' when not set). */
  feature: string;
  /** For a feedback record: the agent of the run it is about. */
  feedbackOf?: string;
  startedAt: number;
}

/**
 * Wraps a recorder so the metrics follow the trace: decisions, denials and their write latency
 * from policy.decided, model latency, tokens and cost from model.responded, run durations from
 * start to finish. The wrapped recorder behaves exactly like the original.
 */
export function observingRecorder(recorder: Recorder, metrics: ServerMetrics): Recorder {
  const runs = new Map<string, RunLabels>();
  const labelsOf = (runId: string): RunLabels =>
    runs.get(runId) ?? { agent: 'unknown', team: 'none', feature: 'none', startedAt: Date.now() };
  const observe = (runId: string, events: ReadonlyArray<{ type: string; payload: unknown }>, seconds: number) => {
    metrics.traceWriteLatency.observe(seconds);
    const labels = labelsOf(runId);
    for (const event of events) {
      const payload = (event.payload ?? {}) as Record<string, unknown>;
      if (event.type === 'policy.decided') {
        const decision = (payload.decision ?? {}) as {
          authority?: string;
          rules?: Array<{ policy?: string; ruleId?: string; authority?: string }>;
        };
        const action = (payload.action ?? {}) as { kind?: string };
        const authority = decision.authority ?? 'unknown';
        const rules = (decision.rules ?? []).map((rule) => ({
          authority: rule.authority ?? authority,
          rule: `${rule.policy ?? 'unknown'}/${rule.ruleId ?? 'unknown'}`,
        }));
        metrics.decisions.inc({ authority, kind: action.kind ?? 'unknown' });
        for (const matched of rules.length > 0 ? rules : [{ authority, rule: 'none' }]) metrics.ruleMatches.inc(matched);
        if (authority === 'deny') {
          // The rule that denied: a deny rule when one applied, else whichever rule is listed first.
          const denying = rules.find((matched) => matched.authority === 'deny') ?? rules[0];
          metrics.boundaryViolations.inc({ agent: labels.agent, kind: 'deny', rule: denying?.rule ?? 'none' });
        }
        metrics.decisionLatency.observe({ authority }, seconds);
      } else if (event.type === 'budget.exceeded') {
        metrics.boundaryViolations.inc({ agent: labels.agent, kind: 'budget', rule: `limit/${String(payload.limit ?? 'unknown')}` });
      } else if (event.type === 'approval.rejected' || event.type === 'approval.expired') {
        metrics.boundaryViolations.inc({
          agent: labels.agent,
          kind: event.type === 'approval.rejected' ? 'rejection' : 'expiry',
          rule: 'none',
        });
      } else if (event.type === 'model.responded') {
        const model = String(payload.model ?? 'unknown');
        const usage = (payload.usage ?? {}) as { inputTokens?: number; outputTokens?: number };
        if (typeof payload.latency_ms === 'number')
          metrics.modelLatency.observe({ provider: String(payload.provider ?? 'unknown'), model }, payload.latency_ms / 1000);
        const charged = { team: labels.team, feature: labels.feature, agent: labels.agent, model };
        if (usage.inputTokens) metrics.tokens.inc({ ...charged, direction: 'input' }, usage.inputTokens);
        if (usage.outputTokens) metrics.tokens.inc({ ...charged, direction: 'output' }, usage.outputTokens);
        if (typeof payload.cost_usd === 'number' && payload.cost_usd > 0) metrics.cost.inc(charged, payload.cost_usd);
      } else if (event.type === 'feedback.given') {
        metrics.feedback.inc({ agent: labels.feedbackOf ?? 'unknown', sentiment: String(payload.sentiment ?? 'unknown') });
      }
    }
  };
  return {
    get keyId() {
      return recorder.keyId;
    },
    async startRun(run, options) {
      const event = await recorder.startRun(run, options);
      const metadata = (run.metadata ?? {}) as { feature?: unknown; kind?: unknown; agent_of_run?: unknown };
      runs.set(event.runId, {
        agent: run.agent,
        team: run.team ?? 'none',
        feature: typeof metadata.feature === 'string' ? metadata.feature : 'none',
        ...(metadata.kind === 'feedback' && typeof metadata.agent_of_run === 'string' ? { feedbackOf: metadata.agent_of_run } : {}),
        startedAt: Date.now(),
      });
      metrics.runsStarted.inc({ agent: run.agent });
      return event;
    },
    async record(runId, event, options) {
      const started = performance.now();
      const recorded = await recorder.record(runId, event, options);
      observe(runId, [event], (performance.now() - started) / 1000);
      return recorded;
    },
    async recordBatch(runId, events, options) {
      const started = performance.now();
      const recorded = await recorder.recordBatch(runId, events, options);
      observe(runId, events, (performance.now() - started) / 1000);
      return recorded;
    },
    // The options carry the run's lease fence: dropping them would fail every fenced append.
    setStatus: (runId, status, options) => recorder.setStatus(runId, status, options),
    async finishRun(runId, outcome, options) {
      const result = await recorder.finishRun(runId, outcome, options);
      const labels = runs.get(runId);
      if (labels) metrics.runDuration.observe({ agent: labels.agent, status: outcome.status }, (Date.now() - labels.startedAt) / 1000);
      runs.delete(runId);
      return result;
    },
    sealRun: (runId, options) => recorder.sealRun(runId, options),
    checkpoint: (runId) => recorder.checkpoint(runId),
    head: (runId) => recorder.head(runId),
  };
}
