import { DEMO_USERS } from '../auth.js';
import { useSession } from '../session.js';

export function SignInCard() {
  const { signInAs, signingIn, signInError } = useSession();
  return (
    <section className="panel hero" aria-labelledby="signin-title" data-testid="sign-in">
      <div>
        <h1 id="signin-title">Watch an order travel through an event-driven backend</h1>
        <p className="muted">
          Pick a demo customer, add a couple of products and check out. Every step of the order saga — stock reserved,
          payment authorized, confirmed or cancelled — appears live as it happens.
        </p>
      </div>
      <div className="signin-buttons" role="group" aria-label="Sign in as a demo user">
        {DEMO_USERS.map((u) => (
          <button
            key={u.id}
            type="button"
            className={`btn ${u.roles.includes('admin') ? '' : 'btn-primary'}`}
            onClick={() => void signInAs(u.id)}
            disabled={!!signingIn}
            data-testid={`sign-in-${u.id}`}
          >
            {signingIn === u.id ? 'Signing in…' : `Sign in as ${u.label}`}
            {u.roles.includes('admin') ? ' (admin)' : ''}
          </button>
        ))}
      </div>
      {signInError && (
        <p className="alert alert-error" role="alert" data-testid="sign-in-error">
          {signInError}
        </p>
      )}
    </section>
  );
}
