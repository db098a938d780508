import type { Logger, TokenVerification } from '@chat/shared';
import { CloseCode } from '@chat/protocol';
import type { ClientSocket } from './client-socket';
import type { SocketHub } from './socket-hub';

export interface SessionLifetimeOptions {
  hub: SocketHub;
  verification: TokenVerification;
  logger: Logger;
  heartbeatIntervalMs: number;
}

/**
 * How long each socket may live: until its token expires (extended by `refresh`), its session is revoked
 * (logout, refresh-token reuse: 4001) or its user deleted (4003), or it stops answering pings.
 */
export class SessionLifetime {
  private heartbeat: NodeJS.Timeout | undefined;
  private stopRevocations: (() => void) | undefined;

  constructor(private readonly options: SessionLifetimeOptions) {}

  /** Starts the ping loop and the revocation listener. */
  start(): void {
    const { hub, verification, heartbeatIntervalMs } = this.options;
    this.heartbeat = setInterval(() => this.pingAll(), heartbeatIntervalMs);
    this.stopRevocations = verification.revocations.onRevoked((revocation) => {
      if (revocation.kind === 'user') {
        for (const client of hub.socketsOf(revocation.userId))
          client.close(CloseCode.FORBIDDEN, 'The user was deleted.');
        return;
      }
      const code = revocation.reason === 'user_deleted' ? CloseCode.FORBIDDEN : CloseCode.SESSION_ENDED;
      for (const client of hub.socketsOf(revocation.userId)) {
        if (client.claims.sid === revocation.sessionId) client.close(code, 'The session ended.');
      }
    });
  }

  stop(): void {
    clearInterval(this.heartbeat);
    this.stopRevocations?.();
  }

  /**
   * Starts the life of a socket that just opened; false (and the socket closed) when its session was
   * revoked while the upgrade awaited the user lookup, since that revocation found no socket to close.
   */
  begin(client: ClientSocket): boolean {
    if (this.options.verification.revocations.isRevoked(client.claims)) {
      client.close(CloseCode.SESSION_ENDED, 'The session ended.');
      return false;
    }
    this.renewed(client);
    return true;
  }

  /** (Re)schedules `session.expiring` and the 4001 close for the socket's current token. */
  readonly renewed = (client: ClientSocket): void => {
    client.scheduleExpiry();
  };

  private pingAll(): void {
    for (const client of this.options.hub.all()) {
      if (!client.alive) {
        this.options.logger.debug('socket did not answer a ping; dropping it', { userId: client.userId });
        client.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }
}
