// Per-token rate limits: a token bucket per key (token id), refilled continuously. In memory,
// per process: a limit protects this server's capacity, not a global quota.

/** Rate limit settings. */
export interface RateLimitOptions {
  /** Requests a key may burst. */
  burst: number;
  /** Requests per second refilled. */
  perSecond: number;
}

/** What the limiter said. */
export type RateDecision = { kind: 'allowed'; remaining: number } | { kind: 'limited'; retryAfterSeconds: number };

/** A token-bucket limiter keyed by token id. */
export class RateLimiter {
  readonly #options: RateLimitOptions;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RateLimitOptions) {
    this.#options = options;
  }

  /** Takes one request from `key`'s bucket. */
  take(key: string, now = Date.now()): RateDecision {
    const { burst, perSecond } = this.#options;
    const bucket = this.#buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > 10_000) this.#prune(now);
    if (bucket.tokens < 1) return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)) };
    bucket.tokens -= 1;
    return { kind: 'allowed', remaining: Math.floor(bucket.tokens) };
  }

  #prune(now: number): void {
    // Full buckets carry no state worth keeping.
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.#options.perSecond >= this.#options.burst) this.#buckets.delete(key);
    }
  }
}
