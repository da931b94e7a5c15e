/**
 * The machine a benchmark ran on, printed and stored with every result: numbers from
 * different machines or Node versions are not comparable.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs the OS reports. */
  cpus: number;
  /** Available parallelism for this process (cgroup limits included). */
  availableParallelism: number;
  totalMemoryMb: number;
  platform: string;
  arch: string;
  osRelease: string;
  node: string;
  v8: string;
  /**
   * 1, 5 and 15 minute load averages when the run started: other work on the machine
   * slows both sides of every comparison, but the absolute numbers with it.
   */
  loadAverage: number[];
  /** Commit of the working tree, when it is a git checkout ("+dirty" when it has changes). */
  gitCommit?: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const info: MachineInfo = {
    cpuModel: (cpus[0]?.model ?? 'unknown').trim(),
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryMb: Math.round(os.totalmem() / 2 ** 20),
    platform: process.platform,
    arch: process.arch,
    osRelease: os.release(),
    node: process.version,
    v8: process.versions.v8,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  const commit = gitCommit();
  if (commit) info.gitCommit = commit;
  return info;
}

function gitCommit(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return undefined;
  }
}

export function describeMachine(m: MachineInfo): string {
  return (
    `${m.cpuModel}, ${m.cpus} CPUs, ${Math.round(m.totalMemoryMb / 1024)} GB, ${m.platform}-${m.arch}, ` +
    `Node ${m.node}, load ${m.loadAverage.map((l) => l.toFixed(1)).join(' ')}`
  );
}
