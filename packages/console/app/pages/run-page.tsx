// One run: its timeline (every recorded event; each decision with its authority, rules, the
// values the conditions saw and the reason; retrievals with their citations; outcomes; model
// cost), followed live while the run goes on; the Verify button; the explain view (the
// auditor's proof of every action); replay with its divergence as a diff; exports (the signed
// JSONL trace, verifiable offline with `factory runs verify --file`, and OTLP spans).
import { useCallback, useEffect, useState } from 'react';
import { api, apiText, download, follow, hasRole, type Session } from '../api.ts';
import { AuthorityBadge, ErrorLine, Json, StatusBadge, Time } from '../components/bits.tsx';

interface RunEventRow {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  payload: Record<string, unknown> | null;
  erased: boolean;
  hash: string;
}

interface RunBody {
  run: { id: string; agent: string; team: string | null; principal: string; status: string; startedAt: string; endedAt: string | null };
  summary?: { sealed: boolean; events: number };
  events: RunEventRow[];
}

interface VerifyReport {
  ok: boolean;
  [key: string]: unknown;
}

const ended = (status: string) => status === 'completed' || status === 'failed';

export function RunPage({ session, runId }: { session: Session; runId: string }) {
  const [body, setBody] = useState<RunBody | null>(null);
  const [error, setError] = useState<string | null>(null);
  const path = `/v1/runs/${encodeURIComponent(runId)}`;
  const load = useCallback(
    () => api<RunBody>(session.token, path).then(setBody, (caught: Error) => setError(caught.message)),
    [session.token, path],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const status = body?.run.status;
  useEffect(() => {
    if (!status || ended(status)) return;
    // Follow the live run; a run this server does not drive answers its status and closes, and the
    // stream is opened again a moment later, so a run resumed elsewhere is seen too.
    const abort = new AbortController();
    void follow(session.token, `${path}/events`, () => void load(), abort.signal).catch(() => undefined);
    return () => abort.abort();
  }, [session.token, path, status, load]);

  if (error) return <ErrorLine error={error} />;
  if (!body) return <p role="status">Loading run…</p>;
  const { run } = body;
  const cost = body.events.reduce(
    (sum, event) => sum + (event.type === 'model.responded' && typeof event.payload?.cost_usd === 'number' ? event.payload.cost_usd : 0),
    0,
  );
  return (
    <article aria-labelledby="run-heading" className="run">
      <h1 id="run-heading">
        Run <code>{run.id}</code>
      </h1>
      <dl className="facts">
        <dt>Agent</dt>
        <dd>
          {run.agent}
          {run.team ? ` (team ${run.team})` : ''}
        </dd>
        <dt>Principal</dt>
        <dd>{run.principal}</dd>
        <dt>Status</dt>
        <dd data-testid="run-status" data-status={run.status}>
          <StatusBadge status={run.status} /> {ended(run.status) ? '' : '(following live)'}
        </dd>
        <dt>Started</dt>
        <dd>
          <Time value={run.startedAt} />{' '}
          {run.endedAt ? (
            <>
              · ended <Time value={run.endedAt} />
            </>
          ) : null}
        </dd>
        <dt>Cost</dt>
        <dd>${cost.toFixed(6)} in model calls</dd>
      </dl>
      <Tools session={session} runId={run.id} status={run.status} />
      <h2>Timeline</h2>
      <ol className="timeline">
        {body.events.map((event) => (
          <li key={event.seq} className={`event event-${event.type.replace('.', '-')}`}>
            <EventLine event={event} />
          </li>
        ))}
      </ol>
    </article>
  );
}

function EventLine({ event }: { event: RunEventRow }) {
  const payload = event.payload ?? {};
  const head = (
    <div className="event-head">
      <span className="seq">#{event.seq}</span> <span className="type">{event.type}</span> <Time value={event.ts} />
      {event.erased ? <span className="muted"> (payload erased)</span> : null}
    </div>
  );
  if (event.type === 'policy.decided') {
    const action = payload.action as { kind: string; name: string; args?: unknown };
    const decision = payload.decision as {
      authority: string;
      reason?: string;
      rules: Array<{ policy: string; ruleId: string; authority: string; reason?: string; values?: Record<string, unknown> }>;
    };
    return (
      <>
        {head}
        <p>
          <AuthorityBadge authority={decision.authority} /> {action.kind} <strong>{action.name}</strong> —{' '}
          {decision.reason ?? 'no reason given'}
        </p>
        {decision.rules.length > 0 && (
          <ul className="rules">
            {decision.rules.map((rule) => (
              <li key={`${rule.policy}/${rule.ruleId}`}>
                <code>{`${rule.policy}/${rule.ruleId}`}</code> → {rule.authority}
                {rule.values && Object.keys(rule.values).length > 0 ? (
                  <span className="values">
                    {' '}
                    saw{' '}
                    {Object.entries(rule.values)
                      .map(([key, value]) => `${key} = ${JSON.stringify(value)}`)
                      .join(', ')}
                  </span>
                ) : null}
              </li>
            ))}
          </ul>
        )}
        {action.args !== undefined && (
          <details>
            <summary>Arguments</summary>
            <Json value={action.args} />
          </details>
        )}
      </>
    );
  }
  if (event.type === 'retrieval.performed') {
    const chunks = (payload.chunks as Array<{ id: string; source?: string; content_hash: string }>) ?? [];
    return (
      <>
        {head}
        <p>Drew on {chunks.length} passage(s):</p>
        <ul className="citations">
          {chunks.map((chunk) => (
            <li key={chunk.id}>
              <cite>{chunk.source ?? chunk.id}</cite> <code className="muted">{chunk.content_hash.slice(0, 12)}</code>
            </li>
          ))}
        </ul>
      </>
    );
  }
  if (event.type === 'model.responded') {
    const usage = (payload.usage ?? {}) as Record<string, number>;
    return (
      <>
        {head}
        <p>
          {String(payload.model ?? 'model')} answered · {usage.inputTokens ?? usage.input_tokens ?? 0} in /{' '}
          {usage.outputTokens ?? usage.output_tokens ?? 0} out tokens · ${Number(payload.cost_usd ?? 0).toFixed(6)}
        </p>
      </>
    );
  }
  if (event.type === 'answer.given') {
    return (
      <>
        {head}
        <blockquote>{String(payload.text ?? '')}</blockquote>
      </>
    );
  }
  const { step: _step, ...rest } = payload;
  return (
    <>
      {head}
      {Object.keys(rest).length > 0 && (
        <details>
          <summary>Details</summary>
          <Json value={rest} />
        </details>
      )}
    </>
  );
}

function Tools({ session, runId, status }: { session: Session; runId: string; status: string }) {
  const path = `/v1/runs/${encodeURIComponent(runId)}`;
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [explanation, setExplanation] = useState<Explanation | null>(null);
  const [replay, setReplay] = useState<ReplayReport | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (what: string, work: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    try {
      await work();
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(null);
    }
  };
  const auditor = hasRole(session, ['auditor', 'admin']);
  const reader = hasRole(session, ['auditor', 'risk_officer', 'admin']);
  return (
    <section aria-label="Verification and exports" className="tools">
      <div className="buttons">
        {auditor && (
          <button
            type="button"
            disabled={busy !== null}
            onClick={() =>
              void run('verify', async () =>
                setReport((await api<{ report: VerifyReport }>(session.token, `${path}/verify`, { method: 'POST' })).report),
              )
            }
          >
            Verify
          </button>
        )}
        {reader && (
          <button
            type="button"
            disabled={busy !== null}
            onClick={() =>
              void run('explain', async () =>
                setExplanation((await api<{ explanation: Explanation }>(session.token, `${path}/explain`)).explanation),
              )
            }
          >
            Explain
          </button>
        )}
        {reader && ended(status) && (
          <button
            type="button"
            disabled={busy !== null}
            onClick={() =>
              void run('replay', async () =>
                setReplay((await api<{ replay: ReplayReport }>(session.token, `${path}/replay`, { method: 'POST', body: {} })).replay),
              )
            }
          >
            Replay
          </button>
        )}
        {auditor && (
          <button
            type="button"
            className="quiet"
            disabled={busy !== null}
            onClick={() =>
              void run('export', async () =>
                download(`${runId}.jsonl`, await apiText(session.token, `${path}/export?format=jsonl`), 'application/x-ndjson'),
              )
            }
          >
            Export JSONL
          </button>
        )}
        {auditor && (
          <button
            type="button"
            className="quiet"
            disabled={busy !== null}
            onClick={() =>
              void run('export', async () =>
                download(`${runId}.otlp.jsonl`, await apiText(session.token, `${path}/export?format=otlp`), 'application/x-ndjson'),
              )
            }
          >
            Export OTLP
          </button>
        )}
        {reader && (
          <button
            type="button"
            className="quiet"
            disabled={busy !== null}
            onClick={() =>
              void run('markdown', async () =>
                download(`${runId}.proof.md`, await apiText(session.token, `${path}/explain?format=markdown`), 'text/markdown'),
              )
            }
          >
            Proof (Markdown)
          </button>
        )}
        <button
          type="button"
          className="quiet"
          disabled={busy !== null}
          onClick={() =>
            void run('json', async () =>
              download(`${runId}.json`, JSON.stringify(await api(session.token, path), null, 2), 'application/json'),
            )
          }
        >
          Events (JSON)
        </button>
      </div>
      {busy && <p role="status">Working: {busy}…</p>}
      <ErrorLine error={error} />
      {report && (
        <div className={report.ok ? 'verdict ok' : 'verdict bad'} role="status" data-testid="verify-result" data-ok={String(report.ok)}>
          <strong>{report.ok ? '✓ Intact' : '✗ Not intact'}</strong>: {summarizeReport(report)}
          <details>
            <summary>Full report</summary>
            <Json value={report} />
          </details>
        </div>
      )}
      {replay && <ReplayView replay={replay} />}
      {explanation && <ExplainView explanation={explanation} />}
    </section>
  );
}

function summarizeReport(report: VerifyReport): string {
  const parts: string[] = [];
  if (typeof report.events === 'number') parts.push(`${report.events} events checked`);
  if (typeof report.sealed === 'boolean') parts.push(report.sealed ? 'sealed' : 'not sealed');
  if (Array.isArray(report.problems) && report.problems.length > 0) parts.push(`${report.problems.length} problem(s)`);
  return parts.join(', ') || 'see the full report';
}

interface Explanation {
  run: { id: string; status: string; policySetHash: string | null };
  actions: Array<{
    step: number;
    kind: string;
    name: string;
    args: Record<string, unknown>;
    authority: string;
    reason: string;
    defaulted: boolean;
    rules: Array<{ policy: string; ruleId: string; authority: string; reason?: string; values: Record<string, unknown> }>;
    policies: Array<{ name: string; version: string; hash: string }>;
    influences: Array<{ step: number; kind: string; name: string; chunks?: Array<{ id: string; source: string }>; summary?: string }>;
    outcome: { status: string; detail: string; approval?: { id: string; outcome: string; approvers: string[] } };
  }>;
  replay: { command: string; whatIf: string };
}

function ExplainView({ explanation }: { explanation: Explanation }) {
  return (
    <section aria-labelledby="explain-heading" className="explain">
      <h2 id="explain-heading">Proof of every action</h2>
      <ol>
        {explanation.actions.map((action) => (
          <li key={`${action.step}-${action.kind}-${action.name}`}>
            <h3>
              Step {action.step}: {action.kind} {action.name} <AuthorityBadge authority={action.authority} />
            </h3>
            <p>
              <strong>Why:</strong> {action.reason}
              {action.defaulted ? ' (the policy default)' : ''}
            </p>
            {action.rules.length > 0 && (
              <ul>
                {action.rules.map((rule) => (
                  <li key={`${rule.policy}/${rule.ruleId}`}>
                    <code>{`${rule.policy}/${rule.ruleId}`}</code> → {rule.authority}
                    {Object.keys(rule.values).length > 0
                      ? ` with ${Object.entries(rule.values)
                          .map(([key, value]) => `${key} = ${JSON.stringify(value)}`)
                          .join(', ')}`
                      : ''}
                  </li>
                ))}
              </ul>
            )}
            <p>
              <strong>Under:</strong>{' '}
              {action.policies.map((policy) => `${policy.name} v${policy.version} (${policy.hash.slice(0, 12)})`).join(', ')}
            </p>
            {action.influences.length > 0 && (
              <p>
                <strong>Data it drew on:</strong>{' '}
                {action.influences
                  .map((influence) =>
                    influence.chunks
                      ? influence.chunks.map((chunk) => chunk.source).join(', ')
                      : `${influence.name} (step ${influence.step})`,
                  )
                  .join('; ')}
              </p>
            )}
            <p>
              <strong>Outcome:</strong> {action.outcome.status} — {action.outcome.detail}
              {action.outcome.approval
                ? ` (approval ${action.outcome.approval.id}: ${action.outcome.approval.outcome} by ${action.outcome.approval.approvers.join(', ') || 'nobody'})`
                : ''}
            </p>
          </li>
        ))}
      </ol>
      <p className="muted">
        Replay from the command line: <code>{explanation.replay.command}</code>
      </p>
    </section>
  );
}

interface ReplayReport {
  outcome: 'identical' | 'diverged' | 'unavailable';
  steps: number;
  divergence: {
    step: number;
    reason: string;
    recorded: { kind: string; name: string; args: Record<string, unknown> } | null;
    replayed: { kind: string; name: string; args: Record<string, unknown> } | null;
    differences: Array<{ path: string; recorded?: unknown; replayed?: unknown }>;
  } | null;
  notes: string[];
}

function ReplayView({ replay }: { replay: ReplayReport }) {
  return (
    <section aria-labelledby="replay-heading" className="replay" data-outcome={replay.outcome}>
      <h2 id="replay-heading">Replay: {replay.outcome}</h2>
      <p>{replay.steps} governed step(s) compared.</p>
      {replay.divergence && (
        <>
          <p>
            First divergence at step {replay.divergence.step}: {replay.divergence.reason}
          </p>
          <table className="diff">
            <caption>Recorded against replayed</caption>
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Recorded</th>
                <th scope="col">Replayed</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <th scope="row">action</th>
                <td className="del">
                  {replay.divergence.recorded ? `${replay.divergence.recorded.kind} ${replay.divergence.recorded.name}` : '—'}
                </td>
                <td className="ins">
                  {replay.divergence.replayed ? `${replay.divergence.replayed.kind} ${replay.divergence.replayed.name}` : '—'}
                </td>
              </tr>
              {replay.divergence.differences.map((difference) => (
                <tr key={difference.path}>
                  <th scope="row">
                    <code>args.{difference.path}</code>
                  </th>
                  <td className="del">{JSON.stringify(difference.recorded)}</td>
                  <td className="ins">{JSON.stringify(difference.replayed)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {replay.notes.length > 0 && (
        <ul>
          {replay.notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
