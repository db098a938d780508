import { AppError, subjects, UpstreamUnavailableError, type Bus, type Logger } from '@chat/shared';
import type { AccountResolver, CredentialsChecker } from '../domain/auth.service';

/** bcrypt at cost 12 takes a quarter of a second; this leaves room for a busy users-service. */
const VERIFY_TIMEOUT_MS = 5_000;

/**
 * Asks users-service over the bus (`users.v1.verify-credentials`). INVALID_CREDENTIALS and
 * UPSTREAM_UNAVAILABLE pass through; any other failure, or a reply of the wrong shape, is users-service
 * not doing its job, which the client sees as 503.
 */
export function busCredentialsChecker(bus: Bus, logger: Logger): CredentialsChecker {
  return async (login, password) => {
    let reply: unknown;
    try {
      reply = await bus.request(
        subjects.verifyCredentials.subject,
        { login, password },
        { timeoutMs: VERIFY_TIMEOUT_MS },
      );
    } catch (error) {
      if (
        error instanceof AppError &&
        (error.code === 'INVALID_CREDENTIALS' || error.code === 'UPSTREAM_UNAVAILABLE')
      ) {
        throw error;
      }
      throw new UpstreamUnavailableError('The user directory could not check the credentials.', error);
    }
    const parsed = subjects.verifyCredentialsReply.schema.safeParse(reply);
    if (!parsed.success) {
      logger.error('users-service sent a malformed credentials reply', {
        issues: parsed.error.issues.length,
      });
      throw new UpstreamUnavailableError('The user directory answered in an unexpected shape.');
    }
    return parsed.data.user;
  };
}

/** The account key for login limits: asks users-service (`users.v1.resolve-login`) which account a login names. */
export function busAccountResolver(bus: Bus): AccountResolver {
  return async (login) => {
    let reply: unknown;
    try {
      reply = await bus.request(subjects.resolveLogin.subject, { login }, { timeoutMs: VERIFY_TIMEOUT_MS });
    } catch (error) {
      if (error instanceof AppError && error.code === 'UPSTREAM_UNAVAILABLE') throw error;
      throw new UpstreamUnavailableError('The user directory could not resolve the login.', error);
    }
    const parsed = subjects.resolveLoginReply.schema.safeParse(reply);
    if (!parsed.success)
      throw new UpstreamUnavailableError('The user directory answered in an unexpected shape.');
    // An unknown login is its own key (lower-cased, as logins compare): a later account of that name
    // starts with a clean slate only because its id differs.
    return parsed.data.userId === null ? `login:${login.toLowerCase()}` : `user:${parsed.data.userId}`;
  };
}
