// The server's log: pino JSON lines on stderr, one per request and one per notable event, each
// with a level, an ISO time and the request id it belongs to. Lines pass the workspace redactor
// before they are written (http-app does that), so no secret or PII pattern reaches the log.
import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Level } from 'pino';

/** A log line: `event` names what happened; the other fields say to what. */
export type ServerLog = (line: Record<string, unknown>) => void;

/**
 * A log line in two parts: `line`, every field that came from a request (a path, a header, a
 * client's request id, a principal), which passes the redactor as any line does; and `own`,
 * fields the server made itself and that hold nothing a caller sent (a fresh request id, the
 * route template, numbers), written as they are. Running every detector over a fresh request id
 * found nothing and cost more than the rest of the line.
 */
export type ServerLogWithOwn = (line: Record<string, unknown>, own: Record<string, unknown>) => void;

/** Options of createServerLog. */
export interface ServerLogOptions {
  /** Lowest level written (default AIFACTORY_LOG_LEVEL, else info). */
  level?: Level;
  /** Where lines go (default stderr). */
  destination?: DestinationStream;
}

const levels: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** The level an event deserves: failures are errors, refusals warnings, the rest information. */
export function levelOf(line: Record<string, unknown>): Level {
  if (typeof line.level === 'string' && (levels as readonly string[]).includes(line.level)) return line.level as Level;
  const event = String(line.event ?? '');
  if (event.endsWith('_failed') || event.endsWith('.failed')) return 'error';
  if (line.outcome === 'denied') return 'warn';
  if (event === 'http.request') {
    const status = Number(line.status);
    if (status >= 500) return 'error';
    if (status >= 400) return 'warn';
  }
  return 'info';
}

/** A pino-backed ServerLog. */
export function createServerLog(options: ServerLogOptions = {}): ServerLog {
  const configured = process.env.AIFACTORY_LOG_LEVEL?.trim().toLowerCase();
  const level = options.level ?? ((levels as readonly string[]).includes(configured ?? '') ? (configured as Level) : 'info');
  const logger = pino(
    {
      level,
      base: { service: 'aifactory' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      messageKey: 'event',
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
  return (line) => {
    const { event, level: _level, ...fields } = line;
    logger[levelOf(line)](fields, String(event ?? 'log'));
  };
}

/** A request id from the client's `X-Request-Id` when it is a plain token, else a fresh one. */
export function requestIdFrom(header: string | undefined, fresh: () => string): string {
  return header !== undefined && /^[A-Za-z0-9._:-]{1,64}$/.test(header) ? header : fresh();
}

/** The trace a request belongs to: trace id and the span id it runs under. */
export interface TraceIds {
  trace_id: string;
  span_id: string;
}

const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/**
 * The OpenTelemetry trace a request is part of, for its log line: the active span's ids when the
 * process has one, else the W3C `traceparent` the caller sent (its trace id and the caller's span
 * id, under which this request runs). Undefined when the request is part of no trace; malformed
 * or all-zero ids are ignored, as the W3C Trace Context spec says.
 */
export function traceIdsOf(traceparent: string | undefined): TraceIds | undefined {
  const active = trace.getActiveSpan()?.spanContext();
  if (active && isSpanContextValid(active)) return { trace_id: active.traceId, span_id: active.spanId };
  const match = traceparent === undefined ? null : traceparentPattern.exec(traceparent.trim());
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!) || traceparent!.startsWith('ff')) return undefined;
  return { trace_id: match[1]!, span_id: match[2]! };
}
