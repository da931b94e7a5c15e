/**
 * One time series of final windows (one sensor, window definition and metric) in fixed
 * typed arrays, and its downsampling for a chart of a given width.
 *
 * Memory is the reason for the shape: 1,000 sensors with a day of 1-minute windows are
 * 1.44 million points, so a point is 24 bytes in columns (start as float64, mean, min and
 * max as float32, count as uint32) instead of a ~150-byte object, and a series never holds
 * more than its capacity: the oldest points go first.
 *
 * Percentiles (`p50`, `p99_9`, ..., issue 17) are optional float32 columns of their own,
 * added when a window first carries them: 4 bytes a point each, counted in `bytes`.
 */

/** Columns the page charts; `t` is the window start, epoch ms. */
export interface SeriesColumns {
  t: number[];
  mean: number[];
  min: number[];
  max: number[];
  count: number[];
  /** Percentile columns by output name, ascending by quantile; NaN (null in JSON) where a window had none. */
  p?: Record<string, number[]>;
}

export interface SeriesPoint {
  t: number;
  mean: number;
  min: number;
  max: number;
  count: number;
  /** The window's percentile estimates by output name (null: no estimate, SEMANTICS "Windows"). */
  p?: Readonly<Record<string, number | null>>;
}

/** The quantile an output name stands for: p99_9 -> 0.999 (names from percentileName). */
export function quantileOfName(name: string): number {
  return Number(name.slice(1).replace('_', '.')) / 100;
}

/** Bytes per stored point of each percentile column. */
export const BYTES_PER_PERCENTILE = 4;

/** Bytes per stored point (see the header): what the store's memory bound is made of. */
export const BYTES_PER_POINT = 8 + 4 + 4 + 4 + 4;

export class WindowSeries {
  private t: Float64Array;
  private mean: Float32Array;
  private min: Float32Array;
  private max: Float32Array;
  private count: Uint32Array;
  /** Percentile columns in ascending order of quantile. */
  private p = new Map<string, Float32Array>();
  private len = 0;

  constructor(readonly capacity: number) {
    // Start small and grow: most series of a short run never get near their capacity.
    const initial = Math.min(capacity, 64);
    this.t = new Float64Array(initial);
    this.mean = new Float32Array(initial);
    this.min = new Float32Array(initial);
    this.max = new Float32Array(initial);
    this.count = new Uint32Array(initial);
  }

  get length(): number {
    return this.len;
  }

  get bytes(): number {
    return this.t.length * (BYTES_PER_POINT + this.p.size * BYTES_PER_PERCENTILE);
  }

  get percentileNames(): string[] {
    return [...this.p.keys()];
  }

  /**
   * Adds a column for each of `names` not yet kept (NaN for the points already held);
   * returns how many were added, so the owner can account for their memory.
   */
  addPercentiles(names: readonly string[]): number {
    const added = names.filter((n) => !this.p.has(n));
    if (added.length === 0) return 0;
    const all = [...this.p.keys(), ...added].sort((a, b) => quantileOfName(a) - quantileOfName(b));
    const next = new Map<string, Float32Array>();
    for (const name of all) {
      let col = this.p.get(name);
      if (!col) {
        col = new Float32Array(this.t.length);
        col.fill(Number.NaN);
      }
      next.set(name, col);
    }
    this.p = next;
    return added.length;
  }

  /**
   * Adds a window, in order of start (windows mostly arrive in order, so this is an
   * append); a start already present is replaced: a source may deliver a window twice.
   */
  upsert(p: SeriesPoint): void {
    let i = this.len;
    while (i > 0 && this.t[i - 1]! > p.t) i--;
    if (i > 0 && this.t[i - 1] === p.t) {
      this.write(i - 1, p);
      return;
    }
    if (this.len === this.capacity) {
      // Full: the oldest eighth goes; a point that would fall among them is not kept either.
      const k = Math.max(1, Math.floor(this.capacity / 8));
      if (i < k) return;
      this.dropOldest(k);
      i -= k;
    }
    this.ensureRoom(this.len + 1);
    for (const col of this.columns()) col.copyWithin(i + 1, i, this.len);
    this.write(i, p);
    this.len++;
  }

  newest(): SeriesPoint | undefined {
    return this.len > 0 ? this.at(this.len - 1) : undefined;
  }

  at(i: number): SeriesPoint {
    const point: SeriesPoint = {
      t: this.t[i]!,
      mean: this.mean[i]!,
      min: this.min[i]!,
      max: this.max[i]!,
      count: this.count[i]!,
    };
    if (this.p.size > 0) {
      const p: Record<string, number | null> = {};
      for (const [name, col] of this.p) p[name] = Number.isNaN(col[i]!) ? null : col[i]!;
      point.p = p;
    }
    return point;
  }

  /**
   * The windows starting in [from, to], as at most `maxPoints` points: when there are
   * more, equal time buckets, each the count-weighted mean, the lowest min and highest
   * max of its windows (so a spike stays visible in the band), and the mean count per
   * window (so the count axis keeps its meaning, readings per window).
   *
   * A bucket's percentile cannot be computed from its windows' percentiles (that needs
   * their sketches), so a bucket shows the extreme on the side of the tail: the highest
   * of its windows' values for a quantile above 0.5 (a p99 spike stays visible, as in the
   * band), the lowest below 0.5, and the count-weighted mean for p50. Undownsampled
   * points are the windows' own estimates.
   */
  downsample(from: number, to: number, maxPoints: number): SeriesColumns {
    const out: SeriesColumns = { t: [], mean: [], min: [], max: [], count: [] };
    const pcols = [...this.p].map(([name, col]) => ({ q: quantileOfName(name), col, out: [] as number[] }));
    if (pcols.length > 0)
      out.p = Object.fromEntries([...this.p.keys()].map((name, i) => [name, pcols[i]!.out]));
    const lo = this.lowerBound(from);
    const hi = this.lowerBound(to + 1);
    const n = hi - lo;
    if (n <= 0) return out;
    if (n <= maxPoints) {
      for (let i = lo; i < hi; i++) {
        out.t.push(this.t[i]!);
        out.mean.push(this.mean[i]!);
        out.min.push(this.min[i]!);
        out.max.push(this.max[i]!);
        out.count.push(this.count[i]!);
        for (const c of pcols) c.out.push(c.col[i]!);
      }
      return out;
    }
    const first = this.t[lo]!;
    const span = this.t[hi - 1]! - first + 1;
    const width = span / Math.max(1, maxPoints);
    let bucket = -1;
    let weighted = 0;
    let readings = 0;
    let windows = 0;
    let bmin = Number.POSITIVE_INFINITY;
    let bmax = Number.NEGATIVE_INFINITY;
    let bt = 0;
    // Per percentile column: the bucket's extreme (or weighted sum for p50) and its weight.
    const pacc = pcols.map(() => ({ v: Number.NaN, w: 0 }));
    const flush = () => {
      if (windows === 0) return;
      out.t.push(bt);
      out.mean.push(readings > 0 ? weighted / readings : Number.NaN);
      out.min.push(bmin);
      out.max.push(bmax);
      out.count.push(readings / windows);
      pcols.forEach((c, k) => {
        const a = pacc[k]!;
        c.out.push(c.q === 0.5 ? (a.w > 0 ? a.v / a.w : Number.NaN) : a.v);
        a.v = Number.NaN;
        a.w = 0;
      });
    };
    for (let i = lo; i < hi; i++) {
      const b = Math.floor((this.t[i]! - first) / width);
      if (b !== bucket) {
        flush();
        bucket = b;
        bt = this.t[i]!;
        weighted = 0;
        readings = 0;
        windows = 0;
        bmin = Number.POSITIVE_INFINITY;
        bmax = Number.NEGATIVE_INFINITY;
      }
      const c = this.count[i]!;
      weighted += this.mean[i]! * c;
      readings += c;
      windows++;
      if (this.min[i]! < bmin) bmin = this.min[i]!;
      if (this.max[i]! > bmax) bmax = this.max[i]!;
      pcols.forEach((col, k) => {
        const v = col.col[i]!;
        if (Number.isNaN(v)) return;
        const a = pacc[k]!;
        if (col.q === 0.5) {
          a.v = (a.w > 0 ? a.v : 0) + v * c;
          a.w += c;
        } else if (Number.isNaN(a.v) || (col.q > 0.5 ? v > a.v : v < a.v)) a.v = v;
      });
    }
    flush();
    return out;
  }

  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.t[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private write(i: number, p: SeriesPoint): void {
    this.t[i] = p.t;
    this.mean[i] = p.mean;
    this.min[i] = p.min;
    this.max[i] = p.max;
    this.count[i] = p.count;
    for (const [name, col] of this.p) col[i] = p.p?.[name] ?? Number.NaN;
  }

  private columns(): (Float64Array | Float32Array | Uint32Array)[] {
    return [this.t, this.mean, this.min, this.max, this.count, ...this.p.values()];
  }

  /** Drops the oldest points in one move, so a full series pays for it once per k points. */
  private dropOldest(k: number): void {
    for (const col of this.columns()) col.copyWithin(0, k, this.len);
    this.len -= k;
  }

  private ensureRoom(n: number): void {
    if (n <= this.t.length) return;
    const size = Math.min(this.capacity, Math.max(n, this.t.length * 2));
    const grow = <A extends Float64Array | Float32Array | Uint32Array>(a: A, make: (n: number) => A): A => {
      const b = make(size);
      b.set(a.subarray(0, this.len));
      return b;
    };
    this.t = grow(this.t, (s) => new Float64Array(s));
    this.mean = grow(this.mean, (s) => new Float32Array(s));
    this.min = grow(this.min, (s) => new Float32Array(s));
    this.max = grow(this.max, (s) => new Float32Array(s));
    this.count = grow(this.count, (s) => new Uint32Array(s));
    for (const [name, col] of this.p)
      this.p.set(
        name,
        grow(col, (s) => new Float32Array(s)),
      );
  }
}
