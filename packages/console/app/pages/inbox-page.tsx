// The approver's inbox: pending approvals live (GET /v1/streams/approvals), each with the held
// action and its masked arguments, the rule and reason that held it, who may approve, the
// deadline, and approve/reject with a comment. Separation of duties and role refusals are said
// before anyone clicks (the stream tells each principal whether they may vote) and shown as the
// API words them when a vote is refused. The notification inboxes sit beside it.
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, follow, hasRole, type Session } from '../api.ts';
import { Link } from '../router.tsx';
import { Json, Time } from '../components/bits.tsx';

interface Rule {
  policy: string;
  ruleId: string;
  authority: string;
  reason?: string;
  values?: Record<string, unknown>;
}

/** A pending approval as the stream sends it. */
export interface InboxApproval {
  id: string;
  runId: string;
  step: number;
  action: { kind: string; name: string; args: unknown };
  requirement: { roles: string[]; count: number; separation_of_duties: boolean; on_expiry: string };
  requestedBy: string;
  requestedAt: string;
  expiresAt: string | null;
  votes: Array<{ approver: string; vote: string; comment?: string; at: string }>;
  decision: { authority: string; reason?: string; rules: Rule[] } | null;
  agent: string | null;
  eligibility: { mayVote: boolean; reason?: string };
}

interface Notification {
  id: number;
  runId: string;
  target: string;
  payload: Record<string, unknown>;
  createdAt: string;
  readAt: string | null;
}

export function InboxPage({ session }: { session: Session }) {
  const [approvals, setApprovals] = useState<InboxApproval[] | null>(null);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const watches = hasRole(session, ['operator', 'approver', 'auditor', 'admin']);
  useEffect(() => {
    if (!watches) return;
    const abort = new AbortController();
    follow(
      session.token,
      '/v1/streams/approvals',
      (event) => {
        if (event.event === 'approvals') setApprovals((JSON.parse(event.data) as { approvals: InboxApproval[] }).approvals);
      },
      abort.signal,
      setLive,
    ).catch((caught: Error) => setError(caught.message));
    return () => abort.abort();
  }, [session.token, watches]);

  return (
    <div className="inbox">
      <section aria-labelledby="approvals-heading" className="approvals">
        <h1 id="approvals-heading">
          Approvals <span className="count">{approvals ? approvals.length : ''}</span>
        </h1>
        <p className="live" role="status" data-live={live ? 'yes' : 'no'}>
          {!watches ? 'Your roles do not include approvals.' : live ? 'Live: new held actions appear here as they happen.' : 'Connecting…'}
        </p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {approvals && approvals.length === 0 && <p className="empty">Nothing is waiting for a decision.</p>}
        <ul className="cards">
          {approvals?.map((approval) => (
            <li key={approval.id}>
              <ApprovalCard approval={approval} session={session} />
            </li>
          ))}
        </ul>
      </section>
      {hasRole(session, ['approver', 'auditor', 'risk_officer', 'admin']) && <Notifications session={session} />}
    </div>
  );
}

function ApprovalCard({ approval, session }: { approval: InboxApproval; session: Session }) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ kind: 'ok' | 'refused'; text: string } | null>(null);
  const canVote = hasRole(session, ['approver', 'admin']);
  const vote = async (kind: 'approve' | 'reject', event?: FormEvent) => {
    event?.preventDefault();
    setBusy(true);
    setOutcome(null);
    try {
      const result = await api<{ result: string; remaining?: number }>(
        session.token,
        `/v1/approvals/${encodeURIComponent(approval.id)}/${kind}`,
        { method: 'POST', body: comment.trim() ? { comment: comment.trim() } : {} },
      );
      setOutcome({
        kind: 'ok',
        text:
          result.result === 'counted'
            ? `Your vote counts; ${result.remaining} more needed.`
            : `Decided: ${result.result}. The run goes on.`,
      });
    } catch (caught) {
      const message = (caught as Error).message;
      const separation = caught instanceof ApiError && caught.status === 403 && /separation of duties/i.test(message);
      setOutcome({
        kind: 'refused',
        text: separation
          ? `${message} The person who started a run never decides its held actions, so one person cannot both ask and approve.`
          : message,
      });
    } finally {
      setBusy(false);
    }
  };
  const headingId = `approval-${approval.id}`;
  const commentId = `comment-${approval.id}`;
  const rules = approval.decision?.rules.filter((rule) => rule.authority === 'require_approval') ?? [];
  return (
    <article className="card approval" aria-labelledby={headingId} data-approval-id={approval.id}>
      <h2 id={headingId}>
        <span className="kind">{approval.action.kind}</span> {approval.action.name}
      </h2>
      <dl className="facts">
        <dt>Run</dt>
        <dd>
          <Link href={`/runs/${encodeURIComponent(approval.runId)}`}>{approval.runId}</Link> · step {approval.step}
          {approval.agent ? ` · agent ${approval.agent}` : ''} · started by {approval.requestedBy}
        </dd>
        <dt>Held by</dt>
        <dd>
          {rules.length > 0 ? (
            rules.map((rule) => <code key={`${rule.policy}/${rule.ruleId}`}>{`${rule.policy}/${rule.ruleId}`}</code>)
          ) : (
            <span>the policy</span>
          )}
          {approval.decision?.reason ? <span className="reason"> — {approval.decision.reason}</span> : null}
        </dd>
        <dt>Who may approve</dt>
        <dd>
          {approval.requirement.count} of{' '}
          {approval.requirement.roles.length > 0 ? `role ${approval.requirement.roles.join(' or ')}` : 'any principal'}
          {approval.requirement.separation_of_duties ? ', not the run\u2019s own principal' : ''}
          {approval.votes.length > 0 ? ` · votes so far: ${approval.votes.map((vote) => `${vote.approver} ${vote.vote}`).join(', ')}` : ''}
        </dd>
        <dt>Deadline</dt>
        <dd>
          {approval.expiresAt ? (
            <>
              <Time value={approval.expiresAt} /> (then {approval.requirement.on_expiry})
            </>
          ) : (
            'none'
          )}
        </dd>
        <dt>Requested</dt>
        <dd>
          <Time value={approval.requestedAt} />
        </dd>
      </dl>
      <details open>
        <summary>Arguments (masked as the policy says)</summary>
        <Json value={approval.action.args} />
      </details>
      {!approval.eligibility.mayVote && approval.eligibility.reason && <p className="note">{approval.eligibility.reason}</p>}
      {canVote && (
        <form onSubmit={(event) => void vote('approve', event)} className="vote">
          <label htmlFor={commentId}>Comment</label>
          <textarea id={commentId} rows={2} maxLength={2000} value={comment} onChange={(event) => setComment(event.target.value)} />
          <div className="buttons">
            <button type="submit" disabled={busy}>
              Approve
            </button>
            <button type="button" className="danger" disabled={busy} onClick={() => void vote('reject')}>
              Reject
            </button>
          </div>
        </form>
      )}
      {outcome && (
        <p className={outcome.kind === 'ok' ? 'ok' : 'error'} role={outcome.kind === 'ok' ? 'status' : 'alert'}>
          {outcome.text}
        </p>
      )}
    </article>
  );
}

function Notifications({ session }: { session: Session }) {
  const [items, setItems] = useState<Notification[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api<{ notifications: Notification[] }>(session.token, '/v1/notifications?limit=50').then(
      (body) => setItems(body.notifications),
      (caught: Error) => setError(caught.message),
    );
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 5000);
    return () => clearInterval(timer);
  }, [session.token]);
  const markRead = async (ids: number[]) => {
    await api(session.token, '/v1/notifications/read', { method: 'POST', body: { ids } }).catch((caught: Error) =>
      setError(caught.message),
    );
    await load();
  };
  const unread = items?.filter((item) => item.readAt === null) ?? [];
  return (
    <section aria-labelledby="notifications-heading" className="notifications">
      <h2 id="notifications-heading">
        Notifications <span className="count">{unread.length > 0 ? `${unread.length} unread` : ''}</span>
      </h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {items && items.length === 0 && <p className="empty">No notifications.</p>}
      {unread.length > 0 && (
        <button type="button" className="quiet" onClick={() => void markRead(unread.map((item) => item.id))}>
          Mark all read
        </button>
      )}
      <ul className="notification-list">
        {items?.map((item) => (
          <li key={item.id} className={item.readAt ? 'read' : 'unread'}>
            <span className="target">{item.target}</span> <Time value={item.createdAt} />
            <p>{describe(item.payload)}</p>
            <Link href={`/runs/${encodeURIComponent(item.runId)}`}>{item.runId}</Link>
            {!item.readAt && (
              <button
                type="button"
                className="quiet"
                onClick={() => void markRead([item.id])}
                aria-label={`Mark notification ${item.id} read`}
              >
                Mark read
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function describe(payload: Record<string, unknown>): string {
  const action = payload.action as { kind?: string; name?: string } | undefined;
  const parts = [
    action ? `${action.kind ?? ''} ${action.name ?? ''}`.trim() : undefined,
    typeof payload.reason === 'string' ? payload.reason : undefined,
    typeof payload.agent === 'string' ? `agent ${payload.agent}` : undefined,
  ];
  return parts.filter(Boolean).join(' — ') || JSON.stringify(payload).slice(0, 200);
}
