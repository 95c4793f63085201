// One target's call: attempts with a timeout, retries with backoff on what may pass (429, 5xx,
// connection, timeout), and what a failure was (for the fallback decision and the error).
import { AiFactoryError, ErrorCode, SystemError, UserError } from '@aifactory/core';
import type { GatewayContext } from './gateway-context.ts';
import type { ModelTarget } from './model-target.ts';
import type { ModelCallOptions, ModelRequest } from './model-types.ts';
import type { ProviderReply } from './provider-adapter.ts';
import { ProviderFailure } from './provider-adapter.ts';
import { adapterFor } from './provider-adapters.ts';

/** Why one target (primary or fallback) gave up. */
export interface TargetFailure {
  target: ModelTarget;
  attempts: number;
  /** What went wrong, for the message: `status 500 (Internal error)`, `timed out after 200 ms`. */
  what: string;
  status: number | undefined;
  timedOut: boolean;
  /** The provider is unavailable (overloaded, down, slow): a fallback may help. */
  unavailable: boolean;
  /** Trying the same provider again may help (a scripted error would only repeat itself). */
  retryable: boolean;
  /** The caller's configuration or request is at fault (bad key, unknown model). */
  userFault: boolean;
  /** Text was already streamed to the caller, so neither a retry nor a fallback may add more. */
  streamed: boolean;
}

export class TargetFailed extends Error {
  readonly failure: TargetFailure;
  constructor(failure: TargetFailure) {
    super(failure.what);
    this.failure = failure;
  }
}

/** Calls one target with retries; resolves with the reply and the attempts it took. */
export async function callTarget(
  context: GatewayContext,
  target: ModelTarget,
  request: ModelRequest,
  options: ModelCallOptions,
): Promise<{ reply: ProviderReply; attempts: number }> {
  const { timeoutMs, maxRetries } = context;
  const adapter = adapterFor(context, target.provider);
  for (let attempt = 1; ; attempt++) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
    let streamed = false;
    const onToken = options.onToken;
    try {
      const reply = await adapter.attempt({
        model: target.model,
        request,
        signal,
        ...(onToken
          ? {
              onToken: (text: string) => {
                streamed = true;
                onToken(text);
              },
            }
          : {}),
      });
      return { reply, attempts: attempt };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (error instanceof AiFactoryError) throw error;
      const failure = classify(context, target, error, timedOut, attempt, streamed);
      const retryable = failure.retryable && !failure.streamed && attempt <= maxRetries;
      if (!retryable) throw new TargetFailed(failure);
      await sleep(retryDelay(context, attempt, error instanceof ProviderFailure ? error.retryAfterMs : undefined), options.signal);
    } finally {
      clearTimeout(timer);
    }
  }
}

function classify(
  context: GatewayContext,
  target: ModelTarget,
  error: unknown,
  timedOut: boolean,
  attempts: number,
  streamed: boolean,
): TargetFailure {
  const base = { target, attempts, streamed, status: undefined, timedOut: false, userFault: false };
  if (timedOut) return { ...base, what: `timed out after ${context.timeoutMs} ms`, timedOut: true, unavailable: true, retryable: true };
  if (error instanceof ProviderFailure) {
    const detail = context.redact(error.message);
    switch (error.kind) {
      case 'status': {
        const status = error.status ?? 0;
        const unavailable = status === 408 || status === 409 || status === 429 || status >= 500;
        return {
          ...base,
          what: `status ${status} (${detail})`,
          status,
          unavailable,
          retryable: unavailable,
          userFault: !unavailable && status >= 400 && status < 500,
        };
      }
      case 'connection':
        return { ...base, what: `connection failed (${detail})`, unavailable: true, retryable: true };
      case 'scripted':
        return { ...base, what: `scripted error (${detail})`, unavailable: true, retryable: false };
      case 'invalid-response':
        return { ...base, what: `invalid response: ${detail}`, unavailable: false, retryable: false };
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return { ...base, what: `unexpected error (${context.redact(message)})`, unavailable: false, retryable: false };
}

function retryDelay(context: GatewayContext, attempt: number, retryAfterMs: number | undefined): number {
  // A server's retry-after is honoured up to the configured ceiling: a longer wait is better
  // spent on the fallback.
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, context.maxDelayMs);
  const exponential = Math.min(context.maxDelayMs, context.initialDelayMs * 2 ** (attempt - 1));
  return exponential * (1 - Math.random() * 0.25);
}

/** The error a failed call throws: the primary's failure and the fallback's, keys redacted; a UserError only when the caller is at fault. */
export function toError(context: GatewayContext, primary: TargetFailure, secondary?: TargetFailure): AiFactoryError {
  const describe = (failure: TargetFailure) =>
    `${failure.target.provider}:${failure.target.model} failed after ${failure.attempts} attempt${failure.attempts === 1 ? '' : 's'}: ${failure.what}`;
  const detailsOf = (failure: TargetFailure) => ({
    provider: failure.target.provider,
    model: failure.target.model,
    status: failure.status ?? null,
    attempts: failure.attempts,
    timed_out: failure.timedOut,
    ...(failure.streamed ? { streamed: true } : {}),
  });
  let message = `Model call to ${describe(primary)}`;
  if (primary.streamed) message += ' after part of the answer was streamed';
  if (secondary) message += `; fallback ${describe(secondary)}`;
  message = `${context.redact(message).replace(/\.$/, '')}.`;
  const details = { ...detailsOf(primary), ...(secondary ? { fallback: detailsOf(secondary) } : {}) };
  const userFault = primary.userFault && (!secondary || secondary.userFault);
  return userFault
    ? new UserError(ErrorCode.ModelFailed, message, { details })
    : new SystemError(ErrorCode.ModelFailed, message, { details });
}

function sleep(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, milliseconds);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
