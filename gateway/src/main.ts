import { runService } from '@chat/shared';
import { createApp } from './app';
import { loadGatewayConfig } from './config';

runService('gateway', () => createApp(loadGatewayConfig(process.env)));
