// Whether a database error means the store could not be reached, rather than that the statement
// was wrong: the connection was refused, reset or ended, or the server is shutting down, starting
// up or in recovery (a restart, a failover). Such a failure says nothing about the work that was
// being done, so callers leave it to be retried or recovered (STORE_UNAVAILABLE) instead of
// failing it. Drivers and drizzle wrap errors, so the whole cause chain is looked at.
import { AiFactoryError, ErrorCode, SystemError } from '@aifactory/core';

/** postgres.js's own codes for a connection that went away or never came. */
const driverCodes = new Set(['CONNECTION_ENDED', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);

/** Node's socket errors. */
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away or not ready: admin_shutdown, crash_shutdown,
 * cannot_connect_now, too_many_connections (a reconnect storm after a restart). Class 08
 * (connection exception) is matched as a class.
 */
const serverStates = new Set(['57P01', '57P02', '57P03', '53300']);

/** Whether `error`, or any error it wraps, is a lost or refused connection to the store. */
export function isConnectionLoss(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const candidate = pending.pop();
    if (!candidate || typeof candidate !== 'object' || seen.has(candidate) || seen.size > 16) continue;
    seen.add(candidate);
    const { code, cause, errors } = candidate as { code?: unknown; cause?: unknown; errors?: unknown };
    if (
      typeof code === 'string' &&
      (driverCodes.has(code) || socketCodes.has(code) || serverStates.has(code) || /^08[0-9A-Z]{3}$/.test(code))
    )
      return true;
    if (cause !== undefined) pending.push(cause);
    // AggregateError: a connect that tried several addresses.
    if (Array.isArray(errors)) pending.push(...(errors as unknown[]));
  }
  return false;
}

/**
 * A lost connection as STORE_UNAVAILABLE, saying what could not be done (`doing`), instead of an
 * error that says nothing about the work (drizzle's "Failed query: …" wrapping the driver's
 * error); any other error, and any error of ours, as it is.
 */
export function storeUnavailable(error: unknown, doing?: string): unknown {
  if (error instanceof AiFactoryError || !isConnectionLoss(error)) return error;
  const reason = (error as { cause?: Error }).cause?.message ?? (error as Error)?.message ?? String(error);
  return new SystemError(ErrorCode.StoreUnavailable, `${doing ? `Could not ${doing}: the` : 'The'} store is unavailable (${reason}).`, {
    cause: error,
  });
}
