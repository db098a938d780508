import { runService } from '@chat/shared';
import { createApp } from './app';
import { loadAuthConfig } from './config';

runService('auth-service', () => createApp(loadAuthConfig(process.env)));
