/* global db */
// Runs once, when the MongoDB container initialises an empty data directory (docker-entrypoint-initdb.d),
// as the root user from MONGO_INITDB_ROOT_USERNAME / MONGO_INITDB_ROOT_PASSWORD. It creates the one user
// the services connect as: readWrite on the `chat` database and nothing else (issue 9, finding 7).
// An existing volume keeps its users: changing MONGO_APP_PASSWORD later needs db.changeUserPassword.
const password = process.env.MONGO_APP_PASSWORD;
if (!password) throw new Error('MONGO_APP_PASSWORD is not set');
db.getSiblingDB('chat').createUser({
  user: 'chat',
  pwd: password,
  roles: [{ role: 'readWrite', db: 'chat' }],
});
