import { isIP } from 'node:net';
import { createApp as createAuthApp, loadAuthConfig } from '@chat/auth-service';
import { createApp as createChatApp, loadChatConfig, type ChatApp } from '@chat/chat-service';
import { createApp as createGatewayApp, loadGatewayConfig } from '@chat/gateway';
import { createBus, createLogger, natsConnectionOf, type Bus, type ServiceApp } from '@chat/shared';
import { createApp as createUsersApp, loadUsersConfig } from '@chat/users-service';
import { loadStandaloneConfig } from './config';

/**
 * The whole system in one process (README, "Two run modes, one codebase"): one bus shared by every service
 * (in-process unless NATS_URL is set), each service on a loopback port of its own for REST, the gateway on
 * PORT, WebSocket upgrades handed from the gateway to chat-service in process.
 * Every service reads the same environment, so MONGO_URL, DATA_DIR, LOG_LEVEL and the rest apply to all.
 */
export function createSystem(env: Record<string, string | undefined>): ServiceApp {
  const config = loadStandaloneConfig(env);
  const logger = createLogger('standalone', config.LOG_LEVEL);
  // The services believe X-Forwarded-For from the gateway alone, which reaches them over loopback (or
  // over SERVICES_HOST when that is an address): a client that reaches a service port directly cannot
  // choose its address past the per-address limits (issue 9, finding 9). The gateway keeps TRUST_PROXY.
  const internal = {
    ...env,
    PORT: '0',
    HOST: config.SERVICES_HOST,
    TRUST_PROXY: isIP(config.SERVICES_HOST) ? `loopback,${config.SERVICES_HOST}` : 'loopback',
  };
  const usersConfig = loadUsersConfig(internal);
  const authConfig = loadAuthConfig(internal);
  const chatConfig = loadChatConfig(internal);
  let bus: Bus | undefined;
  let chat: ChatApp | undefined;
  const started: ServiceApp[] = [];

  return {
    logger,
    async start() {
      // The in-process bus keeps its durable events (session revocations) under DATA_DIR, as JetStream would.
      bus = await createBus({
        ...natsConnectionOf(config),
        name: 'standalone',
        logger,
        dataDir: config.DATA_DIR,
      });
      const deps = { bus };
      chat = createChatApp(chatConfig, deps);
      const services: Array<[string, ServiceApp]> = [
        ['users', createUsersApp(usersConfig, deps)],
        ['auth', createAuthApp(authConfig, deps)],
        ['chat', chat],
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
          WEB_DIR: config.WEB_DIR,
        }),
        // Sockets go to chat-service in process: one write per frame instead of two over loopback.
        { ...deps, localSockets: chat },
      );
      const { url } = await gateway.start();
      started.push(gateway);
      logger.info('system ready', {
        url,
        store: config.MONGO_URL ? 'mongodb' : 'embedded',
        bus: config.NATS_URL ? 'nats' : 'in-process',
      });
      return { url };
    },
    async stop() {
      // chat-service first, while the gateway still carries its sockets: they close with 1012 (reconnect
      // with `since`) instead of being cut when the gateway goes. Then the gateway, so nothing new
      // arrives while the other services stop.
      const order = started
        .filter((app) => app === chat)
        .concat(started.filter((app) => app !== chat).reverse());
      // One failing stop must not leave the rest running or their stores uncompacted: stop all, then report.
      const failures: unknown[] = [];
      for (const app of order) await app.stop().catch((error: unknown) => failures.push(error));
      started.length = 0;
      await bus?.close().catch((error: unknown) => failures.push(error));
      if (failures.length > 0)
        throw new AggregateError(failures, 'Some parts of the system did not stop cleanly.');
    },
  };
}
