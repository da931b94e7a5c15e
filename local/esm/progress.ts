/**
 * Bookkeeping of the local event source mapping that needs no AWS: a shard's conservative
 * checkpoint when several lanes finish records out of shard order, and a wake-up signal
 * for the loops that wait on each other.
 */

/**
 * Records of one shard in shard order, each pending until done (processed, or discarded
 * to the on-failure destination). The checkpoint is the last record such that it and
 * every record before it are done: with `parallelizationFactor` > 1, lanes complete out
 * of order, and a record is checkpointed only once nothing before it can still be retried.
 */
export class ShardProgress {
  private done: boolean[] = [];
  private sequences: string[] = [];
  /** Position of `done[0]` in the shard (positions count records read, from 0). */
  private base = 0;
  private head = 0;
  private lastCheckpoint: string | undefined;

  /** Registers the next record read from the shard; returns its position. */
  add(sequenceNumber: string): number {
    this.done.push(false);
    this.sequences.push(sequenceNumber);
    return this.base + this.done.length - 1;
  }

  complete(position: number): void {
    const i = position - this.base;
    if (i < this.head || i >= this.done.length) return;
    this.done[i] = true;
    while (this.head < this.done.length && this.done[this.head]) {
      this.lastCheckpoint = this.sequences[this.head];
      this.head++;
    }
    // Compact now and then so the arrays do not grow with the shard.
    if (this.head > 1024 && this.head * 2 > this.done.length) {
      this.done = this.done.slice(this.head);
      this.sequences = this.sequences.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }

  /** Sequence number of the last checkpointed record (undefined before the first). */
  get checkpoint(): string | undefined {
    return this.lastCheckpoint;
  }

  /** Records read but not yet checkpointed (done or not). */
  get pending(): number {
    return this.done.length - this.head;
  }
}

/**
 * Wakes whoever waits on it. `wait` resolves on `notify`, after `timeoutMs`, or when
 * `abort` fires; it never rejects, and leaves no timer or listener behind.
 */
export class Signal {
  private waiters = new Set<() => void>();

  notify(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  wait(timeoutMs?: number, abort?: AbortSignal): Promise<void> {
    if (abort?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        if (timer) clearTimeout(timer);
        abort?.removeEventListener('abort', wake);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
      if (timeoutMs !== undefined) timer = setTimeout(wake, Math.max(0, timeoutMs));
      abort?.addEventListener('abort', wake, { once: true });
    });
  }
}
