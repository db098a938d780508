import { AppError, subjects, UpstreamUnavailableError, type Bus, type Logger } from '@chat/shared';
import type { CredentialsChecker } from '../domain/auth.service';

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
