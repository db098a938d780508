import { z } from 'zod';
import { baseConfigShape, loadConfig } from '@chat/shared';

/** The one-process run: the gateway's PORT is the public one; services listen on loopback ports of their own. */
export function loadStandaloneConfig(env: Record<string, string | undefined>) {
  return loadConfig(
    {
      ...baseConfigShape,
      PORT: baseConfigShape.PORT.default(8080),
      SERVICES_HOST: z.string().default('127.0.0.1'),
    },
    env,
  );
}

export type StandaloneConfig = ReturnType<typeof loadStandaloneConfig>;
