import path from 'node:path';
import { z } from 'zod';
import { baseConfigShape, loadConfig } from '@chat/shared';

/** The one-process run: the gateway's PORT is the public one; services listen on loopback ports of their own. */
export function loadStandaloneConfig(env: Record<string, string | undefined>) {
  return loadConfig(
    {
      ...baseConfigShape,
      PORT: baseConfigShape.PORT.default(8080),
      SERVICES_HOST: z.string().default('127.0.0.1'),
      /** The built browser client the gateway serves at `/` (`npm start` builds it when missing). */
      WEB_DIR: z.string().min(1).default(path.resolve(__dirname, '../../web/dist')),
    },
    env,
  );
}

export type StandaloneConfig = ReturnType<typeof loadStandaloneConfig>;
