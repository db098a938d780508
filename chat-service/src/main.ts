import { runService } from '@chat/shared';
import { createApp } from './app';
import { loadChatConfig } from './config';

runService('chat-service', () => createApp(loadChatConfig(process.env)));
