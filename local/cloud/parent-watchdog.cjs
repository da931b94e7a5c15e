/**
 * Preloaded (`node --require`) into every kinesis-local child, and loaded by supervise.cjs
 * (which runs moto_server), so that they cannot outlive the process that started them,
 * even when that process is SIGKILLed and no exit handler runs. Two independent signals,
 * either one is enough:
 *
 * - stdin: the parent holds the only write end of the child's stdin pipe; when the parent
 *   dies, for whatever reason, the kernel closes it and stdin reports end-of-file.
 * - polling: `process.kill(parentPid, 0)` fails with ESRCH once the parent is gone (covers
 *   a child whose stdin was redirected by someone else). `process.ppid` is not re-read by
 *   Node 20, so the parent pid comes from the environment instead.
 *
 * With WINDOWPANE_WATCHDOG_GROUP=1 the whole process group goes (the process was spawned
 * `detached`, so it leads the group, and what it runs is in it): a supervisor dies with
 * the program it supervises.
 *
 * Plain CommonJS because kinesis-local's main.js is CommonJS and this runs before it.
 */
'use strict';

const parentPid = Number(process.env.WINDOWPANE_PARENT_PID);
const killGroup = process.env.WINDOWPANE_WATCHDOG_GROUP === '1';

function die() {
  // SIGKILL: kinesis-local's own SIGTERM handling takes seconds.
  if (killGroup) {
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      // Not a group leader after all: at least this process goes.
    }
  }
  process.kill(process.pid, 'SIGKILL');
}

process.stdin.on('end', die);
process.stdin.on('close', die);
process.stdin.on('error', die);
process.stdin.resume();

if (Number.isInteger(parentPid) && parentPid > 1) {
  const timer = setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch (err) {
      if (err && err.code === 'ESRCH') die();
    }
  }, 1000);
  timer.unref();
}
