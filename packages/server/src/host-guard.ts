// DNS-rebinding protection: a server bound to loopback answers only requests whose Host names an
// allowed host and whose Origin (when a browser sends one) is an allowed host or a CORS origin. A
// page on evil.example.com whose name is made to resolve to 127.0.0.1 then reaches nothing. The
// MCP specification requires this of Streamable HTTP servers; we apply it to the whole API. The
// check follows the MCP SDK's hostHeaderValidation (port-agnostic hostnames, parsed by the URL
// API), which is an Express middleware and so cannot be mounted on Hono as it is.
import { ErrorCode } from '@aifactory/core';
import type { MiddlewareHandler } from 'hono';

/** Host names a loopback server answers to unless told otherwise. */
export const loopbackHostnames: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** Whether `host` (an interface to listen on) is a loopback interface. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(?:\.\d{1,3}){3}$/.test(bare);
}

/** Options of hostGuard. */
export interface HostGuardOptions {
  /** Host names (no port; IPv6 in brackets) requests may name in Host. */
  allowedHosts: readonly string[];
  /** Browser origins (scheme://host[:port]) allowed besides the allowed hosts (the CORS origins). */
  allowedOrigins?: readonly string[];
}

/** What the guard decided about one request. */
export type HostDecision = { kind: 'allowed' } | { kind: 'refused'; reason: 'host' | 'origin'; message: string };

/** Decides whether a request's Host and Origin headers are acceptable. Unparseable values are refused, never passed through. */
export function decideHost(host: string | undefined, origin: string | undefined, options: HostGuardOptions): HostDecision {
  const allowed = new Set(options.allowedHosts.map((name) => name.toLowerCase()));
  const hostname = hostnameOf(host === undefined ? undefined : `http://${host}`);
  if (!hostname || !allowed.has(hostname)) {
    return {
      kind: 'refused',
      reason: 'host',
      message: `Host ${JSON.stringify(String(host ?? '').slice(0, 100))} is not one this server answers to; allowed: ${[...allowed].join(', ')} (see --allowed-host).`,
    };
  }
  if (origin !== undefined && origin !== '') {
    const originHostname = hostnameOf(origin);
    const exact = options.allowedOrigins?.includes(origin) ?? false;
    if (!exact && (!originHostname || !allowed.has(originHostname))) {
      return {
        kind: 'refused',
        reason: 'origin',
        message: `Origin ${JSON.stringify(origin.slice(0, 100))} may not call this server; allow it with --cors-origin or --allowed-host.`,
      };
    }
  }
  return { kind: 'allowed' };
}

/**
 * decideHost with a memory: nearly every request names the same Host (and Origin), and the decision
 * depends on nothing else, so a pair once allowed is remembered and those requests parse no URL.
 * Refused pairs are decided anew each time; at most 256 pairs are kept (then all are forgotten at
 * once). One instance serves the middleware and the gateway's route in front of Hono.
 */
export class HostCheck {
  readonly #options: HostGuardOptions;
  readonly #allowedPairs = new Set<string>();

  constructor(options: HostGuardOptions) {
    this.#options = options;
  }

  /** Decides a request's Host and Origin headers. */
  decide(host: string | undefined, origin: string | undefined): HostDecision {
    // Header values hold no line feed (Node refuses them), so the pair's key is unambiguous.
    const pair = origin === undefined ? host : `${host}\n${origin}`;
    if (pair !== undefined && this.#allowedPairs.has(pair)) return allowedHost;
    const decision = decideHost(host, origin, this.#options);
    if (decision.kind === 'allowed' && pair !== undefined) {
      if (this.#allowedPairs.size >= 256) this.#allowedPairs.clear();
      this.#allowedPairs.add(pair);
    }
    return decision;
  }
}

const allowedHost: HostDecision = { kind: 'allowed' };

/** Hono middleware refusing (403) requests whose Host or Origin is not allowed. */
export function hostGuard(
  options: HostGuardOptions | HostCheck,
  onRefused?: (decision: Extract<HostDecision, { kind: 'refused' }>) => void,
): MiddlewareHandler {
  const check = options instanceof HostCheck ? options : new HostCheck(options);
  return async (c, next) => {
    // Requests over a socket always carry Host (Node builds the URL from it); an in-process
    // request (app.request) may not, and then its URL's host stands in.
    const decision = check.decide(c.req.header('host') ?? new URL(c.req.url).host, c.req.header('origin'));
    if (decision.kind === 'refused') {
      onRefused?.(decision);
      return c.json({ error: { code: ErrorCode.Forbidden, message: decision.message } }, 403);
    }
    return next();
  };
}

function hostnameOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password || (parsed.pathname !== '/' && parsed.pathname !== '')) return undefined;
    return parsed.hostname.toLowerCase();
  } catch {
    return undefined;
  }
}
