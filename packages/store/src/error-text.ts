// An error's message as text fit to be stored or logged. drizzle wraps a driver's error as
// "Failed query: <statement>\nparams: <values>", and the values are whatever the statement carried:
// encrypted checkpoint bytes (NUL bytes among them: Postgres refuses to store such text, 22P05, so
// the job queue could not record the failure and its worker stopped), or a run's own data. The
// parameters are left out and the driver's reason is said instead; control characters other than
// line breaks and tabs are replaced, and the text is bounded.

/** Characters Postgres text or a log line should not carry: NUL and the other C0 controls but tab and line breaks, and DEL. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controls = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/** The message of `error` without query parameters or control characters, at most `max` characters. */
export function errorText(error: unknown, max = 2000): string {
  let text = error instanceof Error ? error.message : String(error);
  const params = text.indexOf('\nparams:');
  if (params >= 0) {
    const cause = (error as { cause?: unknown }).cause;
    const reason = cause instanceof Error ? cause.message : undefined;
    text = `${text.slice(0, params)}${reason ? `: ${reason}` : ''}`;
  }
  text = text.replace(controls, '\uFFFD');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
