import type { User } from '@chat/shared';

/** What users-service tells other services after each successful write; never a password or hash. */
export interface UserEvents {
  created(user: User): Promise<void>;
  updated(user: User): Promise<void>;
  deleted(userId: string, deletedAt: Date): Promise<void>;
}
