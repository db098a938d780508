import { runAdminCommand } from './admin-command';

// `npm run admin -- promote <username>` (README, "Admins"): prints what it did and exits with its code.
runAdminCommand(process.argv.slice(2), process.env).then(
  ({ code, output }) => {
    (code === 0 ? process.stdout : process.stderr).write(`${output}\n`);
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof Error && error.name === 'ConfigError' ? 78 : 1;
  },
);
