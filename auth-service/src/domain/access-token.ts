import jwt from 'jsonwebtoken';
import { ACCESS_TOKEN_ALGORITHM, type Role } from '@chat/shared';
import type { KeyRing } from './key-ring';

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/** Who an access token speaks for: the user and the session it belongs to. */
export interface AccessSubject {
  userId: string;
  username: string;
  role: Role;
  sessionId: string;
}

/**
 * Signs access tokens with the ring's current key: ES256, `kid` in the header, and exactly the claims of the
 * shared `accessClaimsSchema` (sub, username, role, sid, iat, exp, iss, aud).
 */
export class AccessTokenSigner {
  constructor(
    private readonly keys: KeyRing,
    private readonly settings: AccessTokenSettings,
  ) {}

  get ttlSeconds(): number {
    return this.settings.ttlSeconds;
  }

  sign(subject: AccessSubject): string {
    return jwt.sign(
      { username: subject.username, role: subject.role, sid: subject.sessionId },
      this.keys.current.privateKey,
      {
        algorithm: ACCESS_TOKEN_ALGORITHM,
        keyid: this.keys.current.kid,
        subject: subject.userId,
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        expiresIn: this.settings.ttlSeconds,
      },
    );
  }
}
