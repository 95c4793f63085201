// Failed authentication, limited per client address: each address may fail a burst of times,
// refilled slowly; past that, every request from it that needs a token gets 429 with Retry-After
// before its token is even looked at, so guessing tokens stops paying. A success does not clear
// the count (a holder of one valid token could otherwise interleave it to keep guessing others).
// In memory, per process, like the per-token rate limit.
import { RateLimiter, type RateDecision } from './rate-limit.ts';

/** Settings of the failed-authentication limit. */
export interface FailedAuthLimitOptions {
  /** Failures an address may make in a burst before it is refused (default 20). */
  burst?: number;
  /** Failures per second an address is forgiven (default 0.2: one every 5 s). */
  perSecond?: number;
}

/** Counts failed authentications per client address. */
export class FailedAuthLimiter {
  readonly #limiter: RateLimiter;
  readonly #exhausted = new Map<string, number>();
  readonly #perSecond: number;

  constructor(options: FailedAuthLimitOptions = {}) {
    this.#perSecond = options.perSecond ?? 0.2;
    this.#limiter = new RateLimiter({ burst: options.burst ?? 20, perSecond: this.#perSecond });
  }

  /** Whether any address is being refused (or was, until its next check): while none is, every address may try. */
  get refusing(): boolean {
    return this.#exhausted.size > 0;
  }

  /** Whether `address` may try to authenticate now. */
  check(address: string, now = Date.now()): RateDecision {
    const until = this.#exhausted.get(address);
    if (until === undefined) return { kind: 'allowed', remaining: 1 };
    if (until <= now) {
      this.#exhausted.delete(address);
      return { kind: 'allowed', remaining: 1 };
    }
    return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)) };
  }

  /** Counts one failure of `address`; says whether it has now used up its allowance. */
  fail(address: string, now = Date.now()): RateDecision {
    const decision = this.#limiter.take(address, now);
    if (decision.kind === 'limited' || decision.remaining === 0) {
      // Refused until one failure's worth has been forgiven.
      this.#exhausted.set(address, now + Math.ceil(1000 / this.#perSecond));
      if (this.#exhausted.size > 10_000) this.#prune(now);
      return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil(1 / this.#perSecond)) };
    }
    return decision;
  }

  #prune(now: number): void {
    for (const [address, until] of this.#exhausted) if (until <= now) this.#exhausted.delete(address);
  }
}
