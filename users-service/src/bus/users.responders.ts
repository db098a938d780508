import { parseInput, subjects, type Bus, type Subscription } from '@chat/shared';
import type { UsersService } from '../domain/users.service';

/** Every users-service instance answers in this queue group, so each request reaches one of them. */
export const USERS_QUEUE = 'users-service';

/** Answers the request/reply subjects other services ask users-service over the bus. */
export function serveUserRequests(bus: Bus, users: UsersService): Subscription[] {
  return [
    bus.serve(
      subjects.verifyCredentials.subject,
      async (message) => {
        const { login, password } = parseInput(subjects.verifyCredentials.schema, message.data);
        return { user: await users.verifyCredentials(login, password) };
      },
      { queue: USERS_QUEUE },
    ),
    bus.serve(
      subjects.resolveLogin.subject,
      async (message) => {
        const { login } = parseInput(subjects.resolveLogin.schema, message.data);
        return { userId: await users.resolveLogin(login) };
      },
      { queue: USERS_QUEUE },
    ),
    bus.serve(
      subjects.getPublicUsers.subject,
      async (message) => {
        const { ids } = parseInput(subjects.getPublicUsers.schema, message.data);
        return { users: await users.publicUsers(ids) };
      },
      { queue: USERS_QUEUE },
    ),
  ];
}
