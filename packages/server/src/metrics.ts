// Prometheus metrics of a serving process (prom-client, one registry per server). The durable
// trace is the source: a recorder wrapper watches what the runtime records (policy.decided,
// model.responded, run starts and ends), so every figure matches an event an auditor can find.
import { approvals, type Store } from '@aifactory/store';
import type { Recorder } from '@aifactory/verification';
import { count, eq, min } from 'drizzle-orm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The metrics a server exposes at /metrics. */
export interface ServerMetrics {
  registry: Registry;
  decisions: Counter<'authority' | 'rule' | 'kind'>;
  denials: Counter<'agent' | 'rule'>;
  decisionLatency: Histogram<'authority'>;
  modelLatency: Histogram<'provider' | 'model'>;
  tokens: Counter<'team' | 'agent' | 'model' | 'direction'>;
  cost: Counter<'team' | 'agent' | 'model'>;
  runDuration: Histogram<'agent' | 'status'>;
  runsStarted: Counter<'agent'>;
  traceWriteLatency: Histogram;
  timeToApprove: Histogram<'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  authDecisions: Counter<'outcome' | 'reason'>;
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Creates the registry and its metrics; approvals gauges read the store when scraped. */
export function createServerMetrics(options: { store?: Store; defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'aifactory_process_' });
  const registers = [registry];
  const metrics: ServerMetrics = {
    registry,
    decisions: new Counter({ name: 'aifactory_decisions_total', help: 'Policy decisions by authority and matching rule (rule="none" when the default applied).', labelNames: ['authority', 'rule', 'kind'], registers }),
    denials: new Counter({ name: 'aifactory_autonomy_denials_total', help: 'Autonomy boundary violations: actions an agent proposed that policy denied.', labelNames: ['agent', 'rule'], registers }),
    decisionLatency: new Histogram({ name: 'aifactory_decision_latency_seconds', help: 'Time to make a decision durable (the write-ahead policy.decided record, decide() included).', labelNames: ['authority'], buckets: latencyBuckets, registers }),
    modelLatency: new Histogram({ name: 'aifactory_model_latency_seconds', help: 'Model call latency as the gateway measured it.', labelNames: ['provider', 'model'], buckets: latencyBuckets, registers }),
    tokens: new Counter({ name: 'aifactory_model_tokens_total', help: 'Model tokens by team, agent, model and direction (input/output).', labelNames: ['team', 'agent', 'model', 'direction'], registers }),
    cost: new Counter({ name: 'aifactory_model_cost_usd_total', help: 'Model cost in USD by team, agent and model.', labelNames: ['team', 'agent', 'model'], registers }),
    runDuration: new Histogram({ name: 'aifactory_run_duration_seconds', help: 'Run durations from start to completion or failure (held time included).', labelNames: ['agent', 'status'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600], registers }),
    runsStarted: new Counter({ name: 'aifactory_runs_started_total', help: 'Runs started by agent.', labelNames: ['agent'], registers }),
    traceWriteLatency: new Histogram({ name: 'aifactory_trace_write_seconds', help: 'Trace write lag: time for a batch of events to become durable.', buckets: latencyBuckets, registers }),
    timeToApprove: new Histogram({ name: 'aifactory_approval_decision_seconds', help: 'Time from an approval request to its decision.', labelNames: ['outcome'], buckets: [1, 10, 60, 300, 1800, 3600, 14_400, 86_400], registers }),
    httpRequests: new Counter({ name: 'aifactory_http_requests_total', help: 'HTTP requests by method, route and status.', labelNames: ['method', 'route', 'status'], registers }),
    authDecisions: new Counter({ name: 'aifactory_auth_decisions_total', help: 'Authentication and authorisation decisions.', labelNames: ['outcome', 'reason'], registers }),
  };
  const store = options.store;
  if (store) {
    new Gauge({
      name: 'aifactory_approvals_pending',
      help: 'Approvals waiting for a decision.',
      registers,
      async collect() {
        const [row] = await store.db.select({ value: count() }).from(approvals).where(eq(approvals.status, 'pending'));
        this.set(Number(row?.value ?? 0));
      },
    });
    new Gauge({
      name: 'aifactory_approvals_oldest_pending_age_seconds',
      help: 'Age of the oldest pending approval (0 when none).',
      registers,
      async collect() {
        const [row] = await store.db.select({ oldest: min(approvals.requestedAt) }).from(approvals).where(eq(approvals.status, 'pending'));
        const oldest = row?.oldest ? new Date(row.oldest as unknown as string) : undefined;
        this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
      },
    });
  }
  return metrics;
}

interface RunLabels {
  agent: string;
  team: string;
  startedAt: number;
}

/**
 * Wraps a recorder so the metrics follow the trace: decisions, denials and their write latency
 * from policy.decided, model latency, tokens and cost from model.responded, run durations from
 * start to finish. The wrapped recorder behaves exactly like the original.
 */
export function observingRecorder(recorder: Recorder, metrics: ServerMetrics): Recorder {
  const runs = new Map<string, RunLabels>();
  const labelsOf = (runId: string): RunLabels => runs.get(runId) ?? { agent: 'unknown', team: 'none', startedAt: Date.now() };
  const observe = (runId: string, events: ReadonlyArray<{ type: string; payload: unknown }>, seconds: number) => {
    metrics.traceWriteLatency.observe(seconds);
    const labels = labelsOf(runId);
    for (const event of events) {
      const payload = (event.payload ?? {}) as Record<string, unknown>;
      if (event.type === 'policy.decided') {
        const decision = (payload.decision ?? {}) as { authority?: string; rules?: Array<{ policy?: string; ruleId?: string }> };
        const action = (payload.action ?? {}) as { kind?: string };
        const authority = decision.authority ?? 'unknown';
        const rules = (decision.rules ?? []).map((rule) => `${rule.policy ?? 'unknown'}/${rule.ruleId ?? 'unknown'}`);
        for (const rule of rules.length > 0 ? rules : ['none']) metrics.decisions.inc({ authority, rule, kind: action.kind ?? 'unknown' });
        if (authority === 'deny') metrics.denials.inc({ agent: labels.agent, rule: rules[0] ?? 'none' });
        metrics.decisionLatency.observe({ authority }, seconds);
      } else if (event.type === 'model.responded') {
        const model = String(payload.model ?? 'unknown');
        const usage = (payload.usage ?? {}) as { inputTokens?: number; outputTokens?: number };
        if (typeof payload.latency_ms === 'number') metrics.modelLatency.observe({ provider: String(payload.provider ?? 'unknown'), model }, payload.latency_ms / 1000);
        if (usage.inputTokens) metrics.tokens.inc({ team: labels.team, agent: labels.agent, model, direction: 'input' }, usage.inputTokens);
        if (usage.outputTokens) metrics.tokens.inc({ team: labels.team, agent: labels.agent, model, direction: 'output' }, usage.outputTokens);
        if (typeof payload.cost_usd === 'number' && payload.cost_usd > 0) metrics.cost.inc({ team: labels.team, agent: labels.agent, model }, payload.cost_usd);
      }
    }
  };
  return {
    get keyId() {
      return recorder.keyId;
    },
    async startRun(run) {
      const event = await recorder.startRun(run);
      runs.set(event.runId, { agent: run.agent, team: run.team ?? 'none', startedAt: Date.now() });
      metrics.runsStarted.inc({ agent: run.agent });
      return event;
    },
    async record(runId, event) {
      const started = performance.now();
      const recorded = await recorder.record(runId, event);
      observe(runId, [event], (performance.now() - started) / 1000);
      return recorded;
    },
    async recordBatch(runId, events) {
      const started = performance.now();
      const recorded = await recorder.recordBatch(runId, events);
      observe(runId, events, (performance.now() - started) / 1000);
      return recorded;
    },
    setStatus: (runId, status) => recorder.setStatus(runId, status),
    async finishRun(runId, outcome) {
      const result = await recorder.finishRun(runId, outcome);
      const labels = runs.get(runId);
      if (labels) metrics.runDuration.observe({ agent: labels.agent, status: outcome.status }, (Date.now() - labels.startedAt) / 1000);
      runs.delete(runId);
      return result;
    },
    sealRun: (runId) => recorder.sealRun(runId),
    head: (runId) => recorder.head(runId),
  };
}
