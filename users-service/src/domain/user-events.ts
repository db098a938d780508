import type { User } from '@chat/shared';

/** What users-service tells other services after each successful write; never a password or hash. */
export interface UserEvents {
  created(user: User): Promise<void>;
  /** `passwordChanged` when the update set a new password: the user's sessions but `keepSessionId` end. */
  updated(user: User, change?: { passwordChanged?: { keepSessionId?: string } }): Promise<void>;
  deleted(userId: string, deletedAt: Date): Promise<void>;
}
