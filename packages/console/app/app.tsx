// The shell: sign-in (with an API token, or through the enterprise's identity provider where the
// server is configured for it), then a header naming the principal and roles, the
// navigation (only pages the token's roles can use), and the page of the current path.
import { lazy, Suspense, useEffect, useState, type FormEvent } from 'react';
import { ApiError, hasRole, signIn, storedSession, storedToken, storeSession, storeToken, type Session } from './api.ts';
import { Link, navigate, useLocation } from './router.tsx';
import { callbackPath, providerName, providerSignIn } from './sign-in-settings.ts';
import { InboxPage } from './pages/inbox-page.tsx';
import { RunsPage } from './pages/runs-page.tsx';
import { RunPage } from './pages/run-page.tsx';

const PoliciesPage = lazy(() => import('./pages/policies-page.tsx'));
const ChartsPage = lazy(() => import('./pages/charts-page.tsx'));

/** Roles each page needs (the API's own: the page would only show its refusals otherwise). */
const pages = [
  { href: '/', label: 'Inbox', roles: ['operator', 'approver', 'auditor', 'risk_officer', 'admin'] },
  { href: '/runs', label: 'Runs', roles: ['operator', 'auditor', 'risk_officer', 'admin'] },
  { href: '/policies', label: 'Policies', roles: ['risk_officer', 'auditor', 'admin'] },
  { href: '/charts', label: 'Charts', roles: ['auditor', 'risk_officer', 'admin'] },
] as const;

export function App() {
  // A reload shows the page at once with the session kept for this tab, while /v1/me is asked
  // again: a token revoked or expired meanwhile signs out, and changed roles are taken.
  const [session, setSession] = useState<Session | null>(storedSession);
  const [checking, setChecking] = useState(
    () => location.pathname === callbackPath || (storedToken() !== null && storedSession() === null),
  );
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    if (location.pathname === callbackPath) {
      // Back from the identity provider: exchange the code, then read who the token names.
      finishProviderSignIn()
        .then(
          ({ session: fresh, returnTo }) => {
            storeSession(fresh);
            history.replaceState(null, '', returnTo);
            setSession(fresh);
          },
          (caught: unknown) => {
            history.replaceState(null, '', '/');
            setNotice(
              caught instanceof ApiError && caught.status === 401
                ? 'The server does not accept the identity provider\u2019s token (wrong audience or issuer, or expired).'
                : (caught as Error).message,
            );
          },
        )
        .finally(() => setChecking(false));
      return;
    }
    const token = storedToken();
    if (!token) return;
    const expiresAt = storedSession()?.expiresAt;
    signIn(token, expiresAt)
      .then(
        (fresh) => {
          storeSession(fresh);
          setSession((kept) => (kept && kept.principal === fresh.principal && kept.roles.join() === fresh.roles.join() ? kept : fresh));
        },
        (caught: unknown) => {
          // Only the API's refusal signs out; a server briefly away keeps the tab signed in.
          if (caught instanceof ApiError && caught.status === 401) {
            storeToken(null);
            setSession(null);
          }
        },
      )
      .finally(() => setChecking(false));
  }, []);
  // A provider's access token has a lifetime: at its end the tab signs out and says why.
  const expiresAt = session?.expiresAt;
  useEffect(() => {
    if (expiresAt === undefined) return;
    const timer = setTimeout(
      () => {
        storeToken(null);
        setSession(null);
        setNotice('Your sign-in has expired; sign in again.');
      },
      Math.max(0, expiresAt - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [expiresAt]);
  if (checking)
    return (
      <p className="loading" role="status">
        Signing in…
      </p>
    );
  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(fresh) => {
          setNotice(null);
          setSession(fresh);
        }}
      />
    );
  const signOut = () => {
    storeToken(null);
    setSession(null);
    navigate('/');
  };
  return <Shell session={session} onSignOut={signOut} />;
}

/** Completes the provider's redirect: the access token, then the API's reading of it. */
async function finishProviderSignIn(): Promise<{ session: Session; returnTo: string }> {
  const settings = providerSignIn();
  if (!settings) throw new Error('This server has no identity provider configured for the console; sign in with an API token.');
  const { completeProviderSignIn } = await import('./oidc-sign-in.ts');
  const tokens = await completeProviderSignIn(settings, new URL(location.href));
  return { session: await signIn(tokens.accessToken, tokens.expiresAt), returnTo: tokens.returnTo };
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (session: Session) => void; notice: string | null }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const provider = providerSignIn();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(token.trim());
      storeSession(session);
      onSignedIn(session);
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? 'The server does not accept this token (unknown, revoked or expired).'
          : (caught as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  const viaProvider = async () => {
    setBusy(true);
    setError(null);
    try {
      const { beginProviderSignIn } = await import('./oidc-sign-in.ts');
      await beginProviderSignIn(provider!, location.pathname === '/' ? '/' : location.pathname + location.search);
    } catch (caught) {
      setError(`Could not reach the identity provider: ${(caught as Error).message}`);
      setBusy(false);
    }
  };
  const shown = error ?? notice;
  return (
    <main className="sign-in">
      <h1>aifactory console</h1>
      <p>Approve held actions, follow and verify runs, preview policy changes.</p>
      {provider && (
        <section aria-labelledby="provider-heading">
          <h2 id="provider-heading">Your organisation’s sign-in</h2>
          <button type="button" onClick={viaProvider} disabled={busy}>
            Sign in with {providerName(provider)}
          </button>
        </section>
      )}
      <form onSubmit={submit} aria-labelledby="token-heading">
        <h2 id="token-heading">{provider ? 'Or with an API token' : 'Sign in with an API token'}</h2>
        <p>
          Create one with <code>factory tokens create --principal you@example.com --role approver</code>.
        </p>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          required
          value={token}
          onChange={(event) => setToken(event.target.value)}
        />
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
      {shown && (
        <p className="error" role="alert">
          {shown}
        </p>
      )}
    </main>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const { path } = useLocation();
  const visible = pages.filter((page) => hasRole(session, page.roles));
  const current = (href: string) => (href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`));
  useEffect(() => {
    const page = pages.find((candidate) => current(candidate.href));
    document.title = `${page?.label ?? 'Run'} · aifactory console`;
  });
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">aifactory</span>
        <nav aria-label="Pages">
          <ul>
            {visible.map((page) => (
              <li key={page.href}>
                <Link href={page.href} aria-current={current(page.href) ? 'page' : undefined}>
                  {page.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who">
          <span data-testid="principal">{session.principal}</span> <span className="roles">({session.roles.join(', ')})</span>
        </span>
        <button type="button" className="quiet" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p role="status">Loading…</p>}>
          <Page path={path} session={session} />
        </Suspense>
      </main>
    </>
  );
}

function Page({ path, session }: { path: string; session: Session }) {
  const run = /^\/runs\/([^/]+)$/.exec(path);
  if (run) return <RunPage session={session} runId={decodeURIComponent(run[1]!)} />;
  if (path === '/runs') return <RunsPage session={session} />;
  if (path === '/policies') return <PoliciesPage session={session} />;
  if (path === '/charts') return <ChartsPage session={session} />;
  if (path === '/') return <InboxPage session={session} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        The console has no page at <code>{path}</code>. <Link href="/">Go to the inbox.</Link>
      </p>
    </section>
  );
}
