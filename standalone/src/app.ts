import { createApp as createAuthApp, loadAuthConfig } from '@chat/auth-service';
import { createApp as createChatApp, loadChatConfig } from '@chat/chat-service';
import { createApp as createGatewayApp, loadGatewayConfig } from '@chat/gateway';
import { createBus, createLogger, type Bus, type ServiceApp } from '@chat/shared';
import { createApp as createUsersApp, loadUsersConfig } from '@chat/users-service';
import { loadStandaloneConfig } from './config';

/**
 * The whole system in one process (api-contract.md, "Running it"): one bus shared by every service
 * (in-process unless NATS_URL is set), each service on a loopback port of its own, the gateway on PORT.
 * Every service reads the same environment, so MONGO_URL, DATA_DIR, LOG_LEVEL and the rest apply to all.
 */
export function createSystem(env: Record<string, string | undefined>): ServiceApp {
  const config = loadStandaloneConfig(env);
  const logger = createLogger('standalone', config.LOG_LEVEL);
  const internal = { ...env, PORT: '0', HOST: config.SERVICES_HOST };
  const usersConfig = loadUsersConfig(internal);
  const authConfig = loadAuthConfig(internal);
  const chatConfig = loadChatConfig(internal);
  let bus: Bus | undefined;
  const started: ServiceApp[] = [];

  return {
    logger,
    async start() {
      bus = await createBus({ natsUrl: config.NATS_URL, name: 'standalone', logger });
      const deps = { bus };
      const services: Array<[string, ServiceApp]> = [
        ['users', createUsersApp(usersConfig, deps)],
        ['auth', createAuthApp(authConfig, deps)],
        ['chat', createChatApp(chatConfig, deps)],
      ];
      const urls: Record<string, string> = {};
      for (const [name, app] of services) {
        urls[name] = (await app.start()).url;
        started.push(app);
      }
      const gateway = createGatewayApp(
        loadGatewayConfig({
          ...env,
          PORT: String(config.PORT),
          USERS_URL: urls.users,
          AUTH_URL: urls.auth,
          CHAT_URLS: urls.chat,
        }),
        deps,
      );
      const { url } = await gateway.start();
      started.push(gateway);
      logger.info('system ready', { url, store: config.MONGO_URL ? 'mongodb' : 'embedded', bus: config.NATS_URL ? 'nats' : 'in-process' });
      return { url };
    },
    async stop() {
      // The gateway first, so nothing new arrives while the services drain.
      for (const app of started.reverse()) await app.stop();
      started.length = 0;
      await bus?.close();
    },
  };
}
