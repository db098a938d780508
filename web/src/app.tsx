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
};

/** Signed in: the chat. Signed out: login, or signup when asked for. */
export function App() {
  const [session, setSession] = useState(() => Session.restore());
  const [notice, setNotice] = useState<string>();
  const [username, setUsername] = useState('');
  const route = useRoute();

  useEffect(() => {
    if (session) navigate('chat');
    else if (route !== 'signup') navigate('login');
  }, [session, route]);

  useEffect(
    () =>
      session?.onEnd((reason) => {
        setNotice(END_NOTICES[reason]);
        setSession(undefined);
      }),
    [session],
  );

  if (session) return <ChatPage session={session} />;
  if (route === 'signup')
    return (
      <SignupPage
        onSignedUp={(created) => {
          setUsername(created);
          setNotice('Your account is ready. Log in with your password.');
          navigate('login');
        }}
      />
    );
  return (
    <LoginPage
      key={username}
      notice={notice}
      username={username}
      onLoggedIn={(result: LoginResult) => {
        setNotice(undefined);
        setSession(Session.start(result));
      }}
    />
  );
}
