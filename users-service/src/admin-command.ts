import {
  createBus,
  createLogger,
  embeddedLockHolder,
  natsConnectionOf,
  type Logger,
  type Role,
  type User,
} from '@chat/shared';
import { busUserEvents } from './bus/user-events.bus';
import { loadUsersConfig, type UsersConfig } from './config';
import { EmbeddedUserStore, USERS_LOCK } from './store/user.store.embedded';
import { MongoUserStore } from './store/user.store.mongo';
import type { UserStore } from './store/user.store';

/** What the command printed and the exit code it ends with. */
export interface AdminCommandResult {
  code: number;
  output: string;
}

const USAGE = `Usage: npm run admin -- <promote|demote> <username>

  promote <username>   make the user an admin
  demote <username>    make the admin a plain user again

Reads the same environment as users-service: MONGO_URL (else the embedded store under DATA_DIR, which
users-service must not be running on), NATS_URL and its credentials (to announce the change at once;
otherwise users-service announces it when it next starts).`;

const ROLE_OF = { promote: 'admin', demote: 'user' } as const satisfies Record<string, Role>;

/**
 * The server-side command that makes the first admin (issue 9, finding 6; contract v1.1 "Rooms and
 * people"): admins are made by an admin over the API or by someone with the server's own configuration,
 * never by a name in configuration that whoever signs it up first would get. It acts on the account that
 * holds the name now: an account deleted and signed up again under the same name is a new, plain user.
 *
 * The change is stored marked "not yet announced"; with NATS_URL it is announced at once (auth-service
 * then gives the user's live sessions the new role, so a demotion reaches tokens refreshed from then on),
 * else users-service announces it at its next start.
 */
export async function runAdminCommand(
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<AdminCommandResult> {
  const [action, username, ...extra] = args;
  if ((action !== 'promote' && action !== 'demote') || !username || extra.length > 0)
    return { code: 64, output: USAGE };
  const config = loadUsersConfig(env);
  const logger = createLogger('users-admin', 'error');
  if (!config.MONGO_URL) {
    const holder = embeddedLockHolder(config.DATA_DIR, USERS_LOCK);
    if (holder !== undefined) {
      return {
        code: 75,
        output: `users-service (pid ${holder}) is running on ${config.DATA_DIR}. The embedded store belongs to one process: stop it (npm start), run this again, then start it.`,
      };
    }
  }
  const store: UserStore = config.MONGO_URL
    ? await MongoUserStore.open(config.MONGO_URL, logger)
    : await EmbeddedUserStore.open(config.DATA_DIR);
  try {
    const result = await store.setRole(username.toLowerCase(), ROLE_OF[action], new Date());
    if (!result) return { code: 1, output: `No user is named ${username}.` };
    const { user, changed } = result;
    if (!changed) return { code: 0, output: `${user.username} is already ${describe(user)}.` };
    const changedLine = `${user.username} (${user.id}) is now ${describe(user)}; new logins get the new role.`;
    if (!config.NATS_URL)
      return { code: 0, output: `${changedLine} users-service announces the change when it next starts.` };
    try {
      await announce(user, config, logger, store);
    } catch (error) {
      return {
        code: 0,
        output: `${changedLine} It could not be announced now (${(error as Error).message}); users-service announces it when it next starts.`,
      };
    }
    return { code: 0, output: `${changedLine} Announced: tokens refreshed from now on carry it too.` };
  } finally {
    await store.close();
  }
}

function describe(user: User): string {
  return user.role === 'admin' ? 'an admin' : 'a plain user';
}

async function announce(user: User, config: UsersConfig, logger: Logger, store: UserStore): Promise<void> {
  const bus = await createBus({ ...natsConnectionOf(config), name: 'users-service', logger });
  try {
    await busUserEvents(bus).updated(user);
    await store.roleChangeAnnounced(user.id);
  } finally {
    await bus.close();
  }
}
