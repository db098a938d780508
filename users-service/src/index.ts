/**
 * @chat/users-service: user accounts over REST (signup, read, update, delete), the credential check and
 * public profiles over the bus, and user events on the durable stream.
 */
export { createApp, type UsersAppDeps } from './app';
export { runAdminCommand, type AdminCommandResult } from './admin-command';
export { loadUsersConfig, usersConfigShape, type UsersConfig } from './config';
export { usersRoutes } from './http/users.routes';
export {
  listUsersQuery,
  signupBody,
  updateUserBody,
  userIdParams,
  userPageSchema,
} from './http/users.schemas';
