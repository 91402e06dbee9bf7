import { useState, type FormEvent } from 'react';
import { Logo } from '../App';
import { ParleyClient, ParleyError, type User } from '../parley';

type Mode = 'login' | 'register';

function explain(err: unknown, mode: Mode): string {
  if (err instanceof ParleyError) {
    if (err.code === 'unauthorized') return 'Wrong username or password.';
    if (err.code === 'conflict') return 'That username is taken. Try another one.';
    if (err.code === 'validation' && mode === 'register')
      return 'Usernames are 3–32 letters, digits, “_”, “.” or “-”; passwords at least 8 characters.';
    if (err.code === 'rate_limited') return 'Too many attempts. Wait a moment and try again.';
    if (err.code === 'network') return 'Cannot reach the server. Check your connection.';
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export function SignIn({ onSignedIn, notice }: { onSignedIn: (token: string, user: User) => void; notice?: string | null }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<Mode | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function go(mode: Mode) {
    if (busy) return;
    const name = username.trim();
    if (!name || !password) {
      setError('Enter a username and a password.');
      return;
    }
    if (mode === 'register' && password.length < 8) {
      setError('Choose a password of at least 8 characters.');
      return;
    }
    setBusy(mode);
    setError(null);
    try {
      const res =
        mode === 'login'
          ? await ParleyClient.login('', { username: name, password })
          : await ParleyClient.register('', { username: name, password });
      onSignedIn(res.token, res.user);
    } catch (err) {
      setError(explain(err, mode));
      setBusy(null);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    void go('login');
  }

  return (
    <main className="splash">
      <form className="splash-card signin" onSubmit={submit} noValidate>
        <Logo />
        <h1>Sign in to Parley</h1>
        <p className="muted">New here? Pick a username and password, then choose “Create account”.</p>
        {notice && !error && <p className="notice">{notice}</p>}
        <div className="field">
          <label htmlFor="signin-username">Username</label>
          <input
            id="signin-username"
            type="text"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="signin-password">Password</label>
          <input
            id="signin-password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </div>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="signin-actions">
          <button type="submit" className="btn primary" disabled={busy !== null} aria-busy={busy === 'login'}>
            Sign in
          </button>
          <button type="button" className="btn" disabled={busy !== null} aria-busy={busy === 'register'} onClick={() => void go('register')}>
            Create account
          </button>
        </div>
      </form>
    </main>
  );
}
