/**
 * `node supervise.cjs COMMAND [ARGS...]`: runs COMMAND in this process's group with this
 * process's stdout and stderr, and carries the parent watchdog (parent-watchdog.cjs) for a
 * program that cannot preload it (moto_server is Python). Spawned `detached` with
 * WINDOWPANE_WATCHDOG_GROUP=1, so when the Node process that started it dies in any way,
 * the watchdog kills the group: this supervisor and COMMAND together. It exits with
 * COMMAND's status.
 */
'use strict';

require('./parent-watchdog.cjs');
const { spawn } = require('node:child_process');

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: node supervise.cjs COMMAND [ARGS...]\n');
  process.exit(2);
}

// stdin stays ours (the watchdog's lifeline); the program gets none.
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('error', (err) => {
  process.stderr.write(`supervise: cannot run ${command}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => child.kill('SIGKILL'));
}
