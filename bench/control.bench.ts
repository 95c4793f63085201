// Control plane benchmark: decide() at 10, 100 and 1,000 rules against an equivalent policy set in
// Cedar (@cedar-policy/cedar-wasm, policies pre-parsed once with preparsePolicySet and evaluated
// with statefulIsAuthorized), in the same process on the same 10,000 generated requests, checking
// that both engines reach the same authority on every request. BENCH_QUICK=1: 1,000 requests,
// 10 and 100 rules.
//
// Equivalence: both sets come from one abstract rule list. Each aifactory rule becomes one Cedar
// policy over the request context (kind, name, amount, classifications, roles, team); deny rules
// become `forbid`, the others `permit` with their authority kept beside the policy id. Cedar then
// says which policies were satisfied (its diagnostics.reason): any forbid -> deny; else the
// strictest authority among the satisfied permits; none -> the default for the kind. Every request
// carries every field, so no condition errors and the two engines must agree exactly.
//
// RE2: the same rule list once more with its text conditions written as `matches` (RE2, re2js):
// `agent.team.matches("^untrusted$")`, `principal.roles.exists(r, r.matches("^admin$"))`, so it
// must reach the same decisions; its decisions per second beside the plain policy's give the
// price of regular expressions in conditions. Then the worst case: `^(a+)+$` on a 10,000-character
// argument (RE2) beside JavaScript's backtracking RegExp on 22 to 24 characters.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AUTHORITIES,
  compilePolicies,
  decide,
  parsePolicy,
  type Action,
  type Authority,
  type DecisionContext,
} from '../packages/control/src/index.ts';

import * as cedar from '../packages/control/node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm.js';

const quick = process.env.BENCH_QUICK === '1';
const sizes = quick ? [10, 100] : [10, 100, 1_000];
const requestCount = quick ? 1_000 : 10_000;
const throughputMilliseconds = quick ? 300 : 1_500;
const benchDir = path.dirname(fileURLToPath(import.meta.url));

// Deterministic pseudo-random numbers (mulberry32): every run measures the same requests.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

type Condition =
  { type: 'amount-gt' | 'amount-le'; value: number } | { type: 'classification' | 'role' | 'team'; value: string } | undefined;
interface BenchRule {
  id: string;
  kind: 'tool' | 'model';
  name: { exact: string } | { prefix: string } | { any: true };
  condition: Condition;
  authority: Authority;
}

/** The abstract rule list: 2 global rules, then per service a prefix rule and 3 rules on each of 3 operations. */
function generateRules(count: number): { rules: BenchRule[]; exactNames: string[]; services: number } {
  const rules: BenchRule[] = [
    { id: 'guard-untrusted', kind: 'tool', name: { any: true }, condition: { type: 'team', value: 'untrusted' }, authority: 'deny' },
    { id: 'models', kind: 'model', name: { any: true }, condition: undefined, authority: 'autonomous' },
  ];
  const exactNames: string[] = [];
  let service = 0;
  while (rules.length < count) {
    const prefix = `svc${service}.`;
    rules.push({
      id: `s${service}-pii`,
      kind: 'tool',
      name: { prefix },
      condition: { type: 'classification', value: 'pii' },
      authority: service % 2 === 0 ? 'deny' : 'require_approval',
    });
    for (let operation = 0; operation < 3 && rules.length < count; operation += 1) {
      const name = `${prefix}op${operation}`;
      exactNames.push(name);
      const threshold = 100 * (1 + ((service * 3 + operation) % 50));
      const perOperation: BenchRule[] = [
        {
          id: `s${service}-o${operation}-small`,
          kind: 'tool',
          name: { exact: name },
          condition: { type: 'amount-le', value: threshold },
          authority: 'autonomous',
        },
        {
          id: `s${service}-o${operation}-large`,
          kind: 'tool',
          name: { exact: name },
          condition: { type: 'amount-gt', value: threshold * 10 },
          authority: 'require_approval',
        },
        operation === 2
          ? { id: `s${service}-o${operation}-notice`, kind: 'tool', name: { exact: name }, condition: undefined, authority: 'notify_human' }
          : {
              id: `s${service}-o${operation}-admins`,
              kind: 'tool',
              name: { exact: name },
              condition: { type: 'role', value: 'admin' },
              authority: 'notify_human',
            },
      ];
      for (const rule of perOperation) if (rules.length < count) rules.push(rule);
    }
    service += 1;
  }
  return { rules, exactNames, services: service };
}

function celCondition(condition: Condition, re2 = false): string | undefined {
  if (!condition) return undefined;
  if (re2 && condition.type === 'classification') return `data.classifications.exists(c, c.matches("^${condition.value}$"))`;
  if (re2 && condition.type === 'role') return `principal.roles.exists(r, r.matches("^${condition.value}$"))`;
  if (re2 && condition.type === 'team') return `agent.team.matches("^${condition.value}$")`;
  switch (condition.type) {
    case 'amount-gt':
      return `action.args.amount > ${condition.value}`;
    case 'amount-le':
      return `action.args.amount <= ${condition.value}`;
    case 'classification':
      return `"${condition.value}" in data.classifications`;
    case 'role':
      return `"${condition.value}" in principal.roles`;
    case 'team':
      return `agent.team == "${condition.value}"`;
  }
}

function policyYaml(rules: readonly BenchRule[], re2 = false): string {
  const lines = [
    'apiVersion: aifactory/v1',
    'kind: AutonomyPolicy',
    'metadata: { name: bench, version: 1 }',
    'spec:',
    '  default: { tool: require_approval, model: autonomous }',
    '  rules:',
  ];
  for (const rule of rules) {
    const name = 'exact' in rule.name ? rule.name.exact : 'prefix' in rule.name ? `${rule.name.prefix}*` : '*';
    lines.push(`    - id: ${rule.id}`, `      match: { kind: ${rule.kind}, name: "${name}" }`);
    const condition = celCondition(rule.condition, re2);
    if (condition) lines.push(`      when: '${condition}'`);
    lines.push(`      authority: ${rule.authority}`);
    if (rule.authority === 'deny') lines.push('      reason: Benchmark denial.');
    if (rule.authority === 'require_approval') lines.push('      approvers: { roles: [lead] }');
    if (rule.authority === 'notify_human') lines.push('      notify: [ops@example.com]');
  }
  return `${lines.join('\n')}\n`;
}

function cedarPolicy(rule: BenchRule): string {
  const clauses = [`context.kind == "${rule.kind}"`];
  if ('exact' in rule.name) clauses.push(`context.name == "${rule.name.exact}"`);
  else if ('prefix' in rule.name) clauses.push(`context.name like "${rule.name.prefix}*"`);
  const condition = rule.condition;
  if (condition?.type === 'amount-gt') clauses.push(`context.amount > ${condition.value}`);
  if (condition?.type === 'amount-le') clauses.push(`context.amount <= ${condition.value}`);
  if (condition?.type === 'classification') clauses.push(`context.classifications.contains("${condition.value}")`);
  if (condition?.type === 'role') clauses.push(`context.roles.contains("${condition.value}")`);
  if (condition?.type === 'team') clauses.push(`context.team == "${condition.value}"`);
  return `${rule.authority === 'deny' ? 'forbid' : 'permit'}(principal, action, resource) when { ${clauses.join(' && ')} };`;
}

interface BenchRequest {
  action: Action;
  context: DecisionContext;
  cedarCall: Parameters<typeof cedar.statefulIsAuthorized>[0];
}

function generateRequests(count: number, exactNames: readonly string[], services: number, policySetId: string): BenchRequest[] {
  const next = random(20_251_123);
  const requests: BenchRequest[] = [];
  for (let index = 0; index < count; index += 1) {
    const roll = next();
    const kind: 'tool' | 'model' = roll < 0.05 ? 'model' : 'tool';
    const name =
      kind === 'model'
        ? 'openai:gpt-4.1-mini'
        : roll < 0.85
          ? exactNames[Math.floor(next() * exactNames.length)]!
          : roll < 0.95
            ? `svc${Math.floor(next() * services)}.other`
            : `misc.tool${Math.floor(next() * 20)}`;
    const amount = Math.floor(Math.exp(next() * Math.log(60_000)));
    const classifications = next() < 0.2 ? ['pii'] : next() < 0.5 ? ['public'] : [];
    const roles = next() < 0.3 ? ['admin', 'analyst'] : ['analyst'];
    const team = next() < 0.05 ? 'untrusted' : 'finance';
    requests.push({
      action: {
        kind,
        name,
        args: { amount },
        agent: { id: 'bench-agent', team },
        principal: { id: 'bench-user', roles },
        run: { id: `run-${index}`, steps: 1, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
      },
      context: { data: { classifications } },
      cedarCall: {
        principal: { type: 'Agent', id: 'bench-agent' },
        action: { type: 'Action', id: 'decide' },
        resource: { type: 'Tool', id: name },
        context: { kind, name, amount, classifications, roles, team },
        preparsedPolicySetId: policySetId,
        entities: [],
      },
    });
  }
  return requests;
}

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

interface EngineFigures {
  p50_us: number;
  p99_us: number;
  mean_us: number;
  decisions_per_second: number;
  load_ms: number;
}

function latencies(count: number, run: (index: number) => void): { p50: number; p99: number; mean: number; totalNs: number } {
  const samples = new Float64Array(count);
  let total = 0;
  for (let index = 0; index < count; index += 1) {
    const started = process.hrtime.bigint();
    run(index);
    const elapsed = Number(process.hrtime.bigint() - started);
    samples[index] = elapsed;
    total += elapsed;
  }
  samples.sort();
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), mean: total / count, totalNs: total };
}

function rounded(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

const rank = (authority: Authority): number => AUTHORITIES.indexOf(authority);
const results: Array<Record<string, unknown>> = [];
const table: Array<Record<string, string | number>> = [];
let totalMismatches = 0;

for (const size of sizes) {
  const { rules, exactNames, services } = generateRules(size);
  const byId = new Map(rules.map((rule) => [rule.id, rule]));

  let started = performance.now();
  const set = compilePolicies([parsePolicy(policyYaml(rules), `bench-${size}.yaml`)]);
  const oursLoadMs = performance.now() - started;

  const policySetId = `bench-${size}`;
  started = performance.now();
  const preparsed = cedar.preparsePolicySet(policySetId, {
    staticPolicies: Object.fromEntries(rules.map((rule) => [rule.id, cedarPolicy(rule)])),
  });
  const cedarLoadMs = performance.now() - started;
  if (preparsed.type !== 'success') throw new Error(`Cedar could not parse the policy set: ${JSON.stringify(preparsed.errors[0])}`);

  const requests = generateRequests(requestCount, exactNames, services, policySetId);
  const cedarAuthority = (request: BenchRequest): Authority => {
    const answer = cedar.statefulIsAuthorized(request.cedarCall);
    if (answer.type !== 'success') throw new Error(`Cedar failed: ${JSON.stringify(answer.errors[0])}`);
    const { decision, diagnostics } = answer.response;
    if (diagnostics.errors.length > 0) throw new Error(`Cedar policy errors: ${JSON.stringify(diagnostics.errors[0])}`);
    if (decision === 'deny')
      return diagnostics.reason.length > 0 ? 'deny' : request.action.kind === 'model' ? 'autonomous' : 'require_approval';
    let best: Authority = 'autonomous';
    for (const id of diagnostics.reason) {
      const authority = byId.get(id)!.authority;
      if (rank(authority) > rank(best)) best = authority;
    }
    return best;
  };

  // Same decisions on every request, checked before anything is timed.
  const ours: Authority[] = requests.map((request) => decide(set, request.action, request.context).authority);
  let mismatches = 0;
  const examples: unknown[] = [];
  const theirs: Authority[] = [];
  for (let index = 0; index < requests.length; index += 1) {
    const authority = cedarAuthority(requests[index]!);
    theirs.push(authority);
    if (authority !== ours[index]) {
      mismatches += 1;
      if (examples.length < 3) examples.push({ request: requests[index]!.cedarCall.context, ours: ours[index], cedar: authority });
    }
  }
  totalMismatches += mismatches;
  const distribution = Object.fromEntries(AUTHORITIES.map((authority) => [authority, ours.filter((value) => value === authority).length]));

  // Latency: every request timed on its own, after a warm-up pass.
  for (let pass = 0; pass < 3; pass += 1) for (const request of requests) decide(set, request.action, request.context);
  globalThis.gc?.();
  const oursLatency = latencies(requests.length, (index) => decide(set, requests[index]!.action, requests[index]!.context));
  // Throughput: a tight loop over the same requests, no per-call timers.
  let decisions = 0;
  started = performance.now();
  while (performance.now() - started < throughputMilliseconds) {
    for (let index = 0; index < requests.length; index += 1) decide(set, requests[index]!.action, requests[index]!.context);
    decisions += requests.length;
  }
  const oursPerSecond = decisions / ((performance.now() - started) / 1000);

  // The same rules with their text conditions as RE2 `matches`: same decisions, then timed alike.
  const re2Set = compilePolicies([parsePolicy(policyYaml(rules, true), `bench-${size}-re2.yaml`)]);
  let re2Mismatches = 0;
  for (let index = 0; index < requests.length; index += 1)
    if (decide(re2Set, requests[index]!.action, requests[index]!.context).authority !== ours[index]) re2Mismatches += 1;
  totalMismatches += re2Mismatches;
  for (let pass = 0; pass < 3; pass += 1) for (const request of requests) decide(re2Set, request.action, request.context);
  globalThis.gc?.();
  const re2Latency = latencies(requests.length, (index) => decide(re2Set, requests[index]!.action, requests[index]!.context));
  let re2Decisions = 0;
  started = performance.now();
  while (performance.now() - started < throughputMilliseconds) {
    for (let index = 0; index < requests.length; index += 1) decide(re2Set, requests[index]!.action, requests[index]!.context);
    re2Decisions += requests.length;
  }
  const re2PerSecond = re2Decisions / ((performance.now() - started) / 1000);

  const warmup = Math.min(500, requests.length);
  for (let index = 0; index < warmup; index += 1) cedar.statefulIsAuthorized(requests[index]!.cedarCall);
  globalThis.gc?.();
  const cedarLatency = latencies(requests.length, (index) => cedar.statefulIsAuthorized(requests[index]!.cedarCall));
  const cedarPerSecond = requests.length / (cedarLatency.totalNs / 1e9);

  const figures = (latency: ReturnType<typeof latencies>, perSecond: number, loadMs: number): EngineFigures => ({
    p50_us: rounded(latency.p50 / 1000, 3),
    p99_us: rounded(latency.p99 / 1000, 3),
    mean_us: rounded(latency.mean / 1000, 3),
    decisions_per_second: Math.round(perSecond),
    load_ms: rounded(loadMs, 1),
  });
  const aifactory = figures(oursLatency, oursPerSecond, oursLoadMs);
  const cedarFigures = figures(cedarLatency, cedarPerSecond, cedarLoadMs);
  const speedup = rounded(oursPerSecond / cedarPerSecond, 1);
  const re2Figures = figures(re2Latency, re2PerSecond, 0);
  const re2Ratio = rounded(re2PerSecond / oursPerSecond, 2);
  results.push({
    rules: size,
    requests: requests.length,
    aifactory,
    aifactory_re2: { ...re2Figures, throughput_vs_plain: re2Ratio, mismatches_vs_plain: re2Mismatches },
    cedar: cedarFigures,
    throughput_ratio: speedup,
    p50_ratio: rounded(cedarLatency.p50 / oursLatency.p50, 1),
    mismatches,
    mismatch_examples: examples,
    outcomes: distribution,
    cedar_outcomes: Object.fromEntries(AUTHORITIES.map((authority) => [authority, theirs.filter((value) => value === authority).length])),
  });
  table.push(
    {
      rules: size,
      engine: 'aifactory decide()',
      'p50 µs': aifactory.p50_us,
      'p99 µs': aifactory.p99_us,
      'decisions/s': aifactory.decisions_per_second,
      'load ms': aifactory.load_ms,
      'same decisions': `${requests.length - mismatches}/${requests.length}`,
    },
    {
      rules: size,
      engine: 'aifactory, text conditions as RE2 matches',
      'p50 µs': re2Figures.p50_us,
      'p99 µs': re2Figures.p99_us,
      'decisions/s': re2Figures.decisions_per_second,
      'load ms': '',
      'same decisions': `${requests.length - re2Mismatches}/${requests.length}, x${re2Ratio} of plain`,
    },
    {
      rules: size,
      engine: 'Cedar (wasm, preparsed)',
      'p50 µs': cedarFigures.p50_us,
      'p99 µs': cedarFigures.p99_us,
      'decisions/s': cedarFigures.decisions_per_second,
      'load ms': cedarFigures.load_ms,
      'same decisions': `x${speedup} throughput`,
    },
  );
}

console.table(table);

// The worst case the issue reported: a catastrophic pattern. RE2 on 10,000 characters, JavaScript's
// RegExp (what CEL matches ran on before) on 22 to 24: each added character doubles its time.
const guard = compilePolicies([
  parsePolicy(
    'apiVersion: aifactory/v1\nkind: AutonomyPolicy\nmetadata: { name: guard, version: 1 }\nspec:\n  default: autonomous\n  rules:\n    - id: runs-of-a\n      match: { kind: tool, name: echo }\n      when: action.args.text.matches("^(a+)+$")\n      authority: deny\n      reason: no\n',
    'guard.yaml',
  ),
]);
const hostile: Action = {
  kind: 'tool',
  name: 'echo',
  args: { text: `${'a'.repeat(10_000)}!` },
  agent: { id: 'a' },
  principal: { id: 'p', roles: [] },
  run: { id: 'r', steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
};
if (decide(guard, hostile).authority !== 'autonomous') throw new Error('The RE2 guard decided the hostile input wrongly.');
const hostileRounds = quick ? 20 : 200;
let hostileStarted = performance.now();
for (let round = 0; round < hostileRounds; round += 1) decide(guard, hostile);
const re2HostileUs = ((performance.now() - hostileStarted) / hostileRounds) * 1000;
const backtracking: Record<string, number> = {};
for (const length of quick ? [20, 21] : [22, 23, 24]) {
  const text = `${'a'.repeat(length)}!`;
  hostileStarted = performance.now();
  // The pattern is the point: this is the backtracking the RE2 guard above is immune to.
  /^(a+)+$/.test(text);
  backtracking[`chars_${length}_ms`] = rounded(performance.now() - hostileStarted, 1);
}
const catastrophic = { pattern: '^(a+)+$', re2_10000_chars_us_per_decision: rounded(re2HostileUs, 1), javascript_regexp: backtracking };
console.log(
  `\n^(a+)+$: decide() with RE2 on 10,000 characters ${catastrophic.re2_10000_chars_us_per_decision} µs per decision; JavaScript RegExp on ${Object.entries(
    backtracking,
  )
    .map(([key, value]) => `${key.replace('chars_', '').replace('_ms', '')} characters ${value} ms`)
    .join(', ')}.`,
);

const first = results[0] as { aifactory: EngineFigures };
const last = results.at(-1) as { rules: number; aifactory: EngineFigures; throughput_ratio: number };
const summary = {
  cedar_version: cedar.getCedarVersion(),
  node: process.version,
  quick,
  requests: requestCount,
  catastrophic_pattern: catastrophic,
  flatness_p50: rounded(last.aifactory.p50_us / first.aifactory.p50_us, 2),
  flatness_p99: rounded(last.aifactory.p99_us / first.aifactory.p99_us, 2),
  targets: {
    throughput_ratio_at_largest: last.throughput_ratio,
    throughput_ratio_target: 100,
    p99_us_at_largest: last.aifactory.p99_us,
    p99_us_target: 20,
    mismatches: totalMismatches,
    met: last.throughput_ratio >= 100 && last.aifactory.p99_us < 20 && totalMismatches === 0,
  },
};
console.log(
  `\naifactory vs Cedar at ${last.rules} rules: x${last.throughput_ratio} throughput, p99 ${last.aifactory.p99_us} µs; decide() p50 from ${sizes[0]} to ${last.rules} rules: x${summary.flatness_p50} (p99 x${summary.flatness_p99}); mismatched decisions: ${totalMismatches}.`,
);
// BENCH_RESULTS_FILE lets a smoke test write elsewhere than the figures of a real run.
const output = process.env.BENCH_RESULTS_FILE ?? path.join(benchDir, 'results', 'control.json');
mkdirSync(path.dirname(output), { recursive: true });
writeFileSync(output, `${JSON.stringify({ benchmark: 'control', ...summary, sizes: results }, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), output)}`);
if (totalMismatches > 0) {
  console.error(`The engines disagree on ${totalMismatches} requests; see mismatch_examples in bench/results/control.json.`);
  process.exit(1);
}
