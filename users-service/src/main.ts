import { runService } from '@chat/shared';
import { createApp } from './app';
import { loadUsersConfig } from './config';

runService('users-service', () => createApp(loadUsersConfig(process.env)));
