// The server's log: pino JSON lines on stderr, one per request and one per notable event, each
// with a level, an ISO time and the request id it belongs to. Lines pass the workspace redactor
// before they are written (http-app does that), so no secret or PII pattern reaches the log.
import pino, { type DestinationStream, type Level } from 'pino';

/** A log line: `event` names what happened; the other fields say to what. */
export type ServerLog = (line: Record<string, unknown>) => void;

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
