import { useEffect, useState } from 'preact/hooks';
import type { LoginResult } from './api';
import { ChatPage } from './pages/chat-page';
import { LoginPage } from './pages/login-page';
import { SignupPage } from './pages/signup-page';
import { navigate, useRoute } from './router';
import { Session, type EndReason } from './session';

const END_NOTICES: Record<EndReason, string> = {
  expired: 'Your session ended. Please log in again.',
  'logged-out': 'You have logged out.',
  forbidden: 'Your account is no longer available.',
  deleted: 'Your account was deleted.',
};

/** Signed in: the chat. Signed out: login, or signup when asked for. */
export function App() {
  const [session, setSession] = useState(() => Session.restore());
  const [notice, setNotice] = useState<string>();
  const route = useRoute();

  useEffect(() => {
    if (session && route?.page !== 'chat' && route?.page !== 'profile')
      navigate({ page: 'chat' }, { replace: true });
    else if (!session && route?.page !== 'signup') navigate({ page: 'login' }, { replace: true });
  }, [session, route]);

  useEffect(
    () =>
      session?.onEnd((reason) => {
        setNotice(END_NOTICES[reason]);
        setSession(undefined);
      }),
    [session],
  );

  // Logged in from another tab: this one follows.
  useEffect(() => {
    if (session) return;
    const follow = () => {
      const shared = Session.restore();
      if (shared) {
        setNotice(undefined);
        setSession(shared);
      }
    };
    window.addEventListener('storage', follow);
    return () => window.removeEventListener('storage', follow);
  }, [session]);

  const start = (result: LoginResult) => {
    setNotice(undefined);
    setSession(Session.start(result));
  };

  if (session)
    return (
      <ChatPage
        session={session}
        roomId={route?.page === 'chat' ? route.roomId : undefined}
        profile={route?.page === 'profile'}
      />
    );
  if (route?.page === 'signup') return <SignupPage onSignedUp={start} />;
  return <LoginPage notice={notice} onLoggedIn={start} />;
}
