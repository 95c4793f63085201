// Budgets and rate limits per team and feature. Spend is read from the trace once per period
// (the same sums `factory usage` shows: agent runs and gateway requests alike) and grows with
// every gateway answer this process records; rates are token buckets in memory. Both are per
// process: they protect a deployment's spend and capacity, they are not a global ledger.
import type { Store } from '@aifactory/store';
import { summarizeUsage } from '@aifactory/verification';
import { RateLimiter } from '../rate-limit.ts';
import type { GatewayBudget, GatewayRateLimit } from './gateway-config.ts';

/** A budget a request would go past. */
export interface BudgetCrossing {
  /** The budget, described: `team payments, feature chat: 10 USD per month`. */
  limit: string;
  /** Spent so far in the period, USD. */
  value: number;
  /** The budget, USD. */
  max: number;
}

const applies = (rule: { team?: string; feature?: string }, team: string | null, feature: string | null) =>
  (rule.team === undefined || rule.team === team) && (rule.feature === undefined || rule.feature === feature);

function periodStart(period: 'day' | 'month', now: Date): Date {
  return period === 'day'
    ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()))
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** Spend per team and feature in the current day and month. */
export class GatewayBudgets {
  readonly #store: Store;
  readonly #budgets: readonly GatewayBudget[];
  /** By period: its start, and spend keyed by JSON [team, feature]. */
  readonly #ledgers = new Map<'day' | 'month', { start: number; spend: Map<string, number>; loading?: Promise<void> }>();

  constructor(store: Store, budgets: readonly GatewayBudget[]) {
    this.#store = store;
    this.#budgets = budgets;
  }

  /** The first budget of the team's feature already spent, or undefined. */
  async crossing(team: string | null, feature: string | null, now = new Date()): Promise<BudgetCrossing | undefined> {
    for (const budget of this.#budgets) {
      if (!applies(budget, team, feature)) continue;
      const ledger = await this.#ledger(budget.period, now);
      let spent = 0;
      for (const [key, value] of ledger.spend) {
        const [spentTeam, spentFeature] = JSON.parse(key) as [string | null, string | null];
        if (spentTeam === team && (budget.feature === undefined || spentFeature === feature)) spent += value;
      }
      if (spent >= budget.maxCostUsd) {
        const scope = [
          team === null ? 'no team' : `team ${team}`,
          ...(budget.feature !== undefined ? [`feature ${budget.feature}`] : []),
        ].join(', ');
        return {
          limit: `${scope}: ${budget.maxCostUsd} USD per ${budget.period}`,
          value: Math.round(spent * 1e6) / 1e6,
          max: budget.maxCostUsd,
        };
      }
    }
    return undefined;
  }

  /** Adds a gateway answer's cost. */
  add(team: string | null, feature: string | null, costUsd: number, now = new Date()): void {
    if (costUsd <= 0) return;
    const key = JSON.stringify([team, feature]);
    for (const [period, ledger] of this.#ledgers) {
      if (ledger.start !== periodStart(period, now).getTime()) continue;
      ledger.spend.set(key, (ledger.spend.get(key) ?? 0) + costUsd);
    }
  }

  async #ledger(period: 'day' | 'month', now: Date) {
    const start = periodStart(period, now).getTime();
    let ledger = this.#ledgers.get(period);
    if (!ledger || ledger.start !== start) {
      const fresh: { start: number; spend: Map<string, number>; loading?: Promise<void> } = { start, spend: new Map() };
      fresh.loading = summarizeUsage(this.#store, { by: ['team', 'feature'], since: new Date(start) }).then((report) => {
        for (const row of report.rows) {
          const key = JSON.stringify([row.team ?? null, row.feature ?? null]);
          fresh.spend.set(key, (fresh.spend.get(key) ?? 0) + row.costUsd);
        }
      });
      this.#ledgers.set(period, fresh);
      ledger = fresh;
    }
    await ledger.loading;
    return ledger;
  }
}

/** Request rates per team and feature. */
export class GatewayRateLimits {
  readonly #limits: Array<{ rule: GatewayRateLimit; limiter: RateLimiter }>;

  constructor(limits: readonly GatewayRateLimit[]) {
    this.#limits = limits.map((rule) => ({
      rule,
      limiter: new RateLimiter({ burst: rule.burst, perSecond: rule.requestsPerMinute / 60 }),
    }));
  }

  /** Takes one request; the seconds to wait when a limit is reached. */
  take(
    team: string | null,
    feature: string | null,
    now = Date.now(),
  ): { limited: false } | { limited: true; retryAfterSeconds: number; limit: string } {
    for (const { rule, limiter } of this.#limits) {
      if (!applies(rule, team, feature)) continue;
      const key = JSON.stringify([team, rule.feature === undefined ? null : feature]);
      const decision = limiter.take(key, now);
      if (decision.kind === 'limited') {
        return {
          limited: true,
          retryAfterSeconds: decision.retryAfterSeconds,
          limit: `${rule.requestsPerMinute} requests per minute for ${team === null ? 'no team' : `team ${team}`}${rule.feature !== undefined ? `, feature ${rule.feature}` : ''}`,
        };
      }
    }
    return { limited: false };
  }
}
