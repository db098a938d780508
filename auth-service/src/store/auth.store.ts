import type { LoginFailureStore } from './login-failure.store';
import type { SessionStore } from './session.store';
import type { SigningKeyStore } from './signing-key.store';

/** Everything auth-service keeps, on one backend (MongoDB or the embedded store). */
export interface AuthStores {
  sessions: SessionStore;
  signingKeys: SigningKeyStore;
  loginFailures: LoginFailureStore;
  /** True when the backend answers; the readiness check. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
