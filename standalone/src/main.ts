import { runService } from '@chat/shared';
import { createSystem } from './app';

runService('standalone', () => createSystem(process.env));
