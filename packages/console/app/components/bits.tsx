// Small pieces every page uses: JSON shown as text, times in the reader's locale with the exact
// instant on hover, and an error line.

/** A value as indented JSON. */
export function Json({ value }: { value: unknown }) {
  // Focusable: a long value scrolls, and a keyboard user must be able to scroll it too.
  return (
    <pre className="json" tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

// One formatter for every time shown (toLocaleString builds a new one per call, which a page of
// runs notices).
const localTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

/** A time in the reader's locale; the ISO instant in the title and dateTime. */
export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span>—</span>;
  const date = new Date(value);
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {localTime.format(date)}
    </time>
  );
}

/** An error said to screen readers at once. */
export function ErrorLine({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

/** An authority as a labelled badge (colour is never the only cue: the word is always there). */
export function AuthorityBadge({ authority }: { authority: string }) {
  return <span className={`badge authority-${authority}`}>{authority}</span>;
}

/** A run status as a badge. */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}
