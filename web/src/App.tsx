import { Component, useCallback, useEffect, useState, type ReactNode } from 'react';
import { ChatApp } from './components/ChatApp';
import { SignIn } from './components/SignIn';
import { ClientContext } from './hooks/useParley';
import { ParleyClient, ParleyError, type User } from './parley';
import { clearSession, loadSession, saveSession, type Session } from './session';

type Boot = { state: 'starting' } | { state: 'ready'; client: ParleyClient } | { state: 'failed'; message: string };

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);

  const signIn = useCallback((token: string, user: User) => {
    const s = { token, user };
    setNotice(null);
    saveSession(s);
    setSession(s);
  }, []);

  const signOut = useCallback(() => {
    clearSession();
    setSession(null);
  }, []);

  const expired = useCallback(() => {
    clearSession();
    setSession(null);
    setNotice('Your session has ended. Please sign in again.');
  }, []);

  if (!session) return <SignIn onSignedIn={signIn} notice={notice} />;
  return (
    <ErrorBoundary>
      <SignedIn key={session.token} session={session} onSignOut={signOut} onExpired={expired} />
    </ErrorBoundary>
  );
}

/** A last resort: a broken render shows a way out instead of a blank page. */
class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <main className="splash">
        <div className="splash-card">
          <Logo />
          <p role="alert">Something went wrong: {this.state.error.message}</p>
          <button type="button" className="btn primary" onClick={() => window.location.reload()}>
            Reload
          </button>
        </div>
      </main>
    );
  }
}

/** One ParleyClient per signed-in session: started here, stopped on sign-out. */
function SignedIn({ session, onSignOut, onExpired }: { session: Session; onSignOut: () => void; onExpired: () => void }) {
  const [boot, setBoot] = useState<Boot>({ state: 'starting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const client = new ParleyClient({ baseUrl: '', token: session.token });
    let live = true;
    setBoot({ state: 'starting' });
    client.start().then(
      () => {
        if (!live) return client.stop(); // unmounted while starting
        if (client.me) saveSession({ token: session.token, user: client.me });
        setBoot({ state: 'ready', client });
      },
      (err: unknown) => {
        client.stop();
        if (!live) return;
        if (err instanceof ParleyError && (err.code === 'unauthorized' || err.code === 'not_found')) {
          onExpired(); // the token expired or the account is gone
          return;
        }
        setBoot({ state: 'failed', message: err instanceof Error ? err.message : String(err) });
      },
    );
    return () => {
      live = false;
      client.stop();
    };
  }, [session.token, attempt, onExpired]);

  // The server refused the token on a reconnect (expired, or the account is gone).
  const ready = boot.state === 'ready' ? boot.client : null;
  useEffect(() => {
    if (!ready) return;
    const check = () => {
      if (ready.connection === 'unauthorized') onExpired();
    };
    check();
    return ready.subscribe(check);
  }, [ready, onExpired]);

  if (boot.state === 'ready') {
    return (
      <ClientContext.Provider value={boot.client}>
        <ChatApp onSignOut={onSignOut} />
      </ClientContext.Provider>
    );
  }
  return (
    <main className="splash">
      <div className="splash-card">
        <Logo />
        {boot.state === 'starting' ? (
          <p className="muted" role="status">
            Loading your conversations…
          </p>
        ) : (
          <>
            <p role="alert">Could not reach the server: {boot.message}</p>
            <div className="row-buttons">
              <button type="button" className="btn primary" onClick={() => setAttempt((n) => n + 1)}>
                Try again
              </button>
              <button type="button" className="btn" onClick={onSignOut}>
                Sign out
              </button>
            </div>
          </>
        )}
      </div>
    </main>
  );
}

export function Logo() {
  return (
    <div className="logo" aria-hidden="true">
      <svg viewBox="0 0 32 32" width="36" height="36">
        <rect width="32" height="32" rx="9" fill="var(--accent)" />
        <path d="M9 10.5h14a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2h-8l-4.5 3.5V21.5H9a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2z" fill="#fff" />
      </svg>
      <span>Parley</span>
    </div>
  );
}
