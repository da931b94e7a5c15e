/**
 * A-L1 States, A-L2 Transitions, A-L3 Clearing, A-L4 Time: the transition table of
 * docs/SEMANTICS.md, one case per (state, input), through the pure `stepAlarm`.
 */
import { describe, expect, it } from 'vitest';
import {
  ALARM_STATES,
  type AlarmEntry,
  type AlarmState,
  newEntry,
  STATE_CODE,
  stateOf,
} from '../../functions/domain/alarms/entry.js';
import {
  type ActionType,
  type LifecycleInput,
  type StepResult,
  stepAlarm,
} from '../../functions/domain/alarms/lifecycle.js';
import type { LifecycleOptions } from '../../functions/domain/rules/common.js';

const OPTS: LifecycleOptions = { latch: false, clearAfter: 1, startDisabled: false };
const ID = 'too-hot@s1';

/** An entry in `state`, with an open episode where the state has one. */
function entryIn(state: AlarmState): AlarmEntry {
  const e: AlarmEntry = { st: STATE_CODE[state], q: 3 };
  if (state === 'ACTIVE' || state === 'ACKNOWLEDGED' || state === 'LATCHED') {
    Object.assign(e, { si: 1_000, v: 40, pk: 42, pt: 1_500, ps: 7, c: 0 });
  }
  if (state === 'SNOOZE_DISABLED') e.su = 9_000;
  return e;
}

const breach = (at = 2_000, value = 45, score = 10): LifecycleInput => ({
  type: 'verdict',
  verdict: 'breach',
  at,
  value,
  score,
});
const normal = (at = 3_000, value = 20): LifecycleInput => ({
  type: 'verdict',
  verdict: 'normal',
  at,
  value,
  score: 0,
});
const band = (at = 3_000): LifecycleInput => ({ type: 'verdict', verdict: 'band', at, value: 33, score: 0 });
const action = (type: ActionType, extra: { forMs?: number; actionId?: string } = {}): LifecycleInput => ({
  type: 'action',
  action: { type, actionId: extra.actionId ?? 'act-1', at: 5_000, by: 'ana', note: 'on it', ...extra },
});

function outcome(r: StepResult) {
  if (r.kind !== 'changed') return r.kind;
  return {
    state: r.entry ? stateOf(r.entry) : 'removed',
    transition: r.transition?.transition ?? null,
  };
}

type Row = [from: AlarmState, input: string, make: () => LifecycleInput, want: ReturnType<typeof outcome>];
const noChange = (s: AlarmState) => ({ state: s, transition: null });

const TABLE: Row[] = [
  ['NORMAL', 'breach', breach, { state: 'ACTIVE', transition: 'ALARM' }],
  ['ACTIVE', 'breach', breach, noChange('ACTIVE')],
  ['ACKNOWLEDGED', 'breach', breach, noChange('ACKNOWLEDGED')],
  ['ACTIVE', 'cleared', normal, { state: 'NORMAL', transition: 'RESOLVED' }],
  ['ACKNOWLEDGED', 'cleared', normal, { state: 'NORMAL', transition: 'RESOLVED' }],
  ['LATCHED', 'normal', normal, noChange('LATCHED')],
  ['LATCHED', 'breach', breach, { state: 'ACTIVE', transition: 'ALARM' }],
  ['NORMAL', 'normal', normal, noChange('NORMAL')],
  ['ACTIVE', 'ack', () => action('ack'), { state: 'ACKNOWLEDGED', transition: 'ACKNOWLEDGED' }],
  ['LATCHED', 'ack', () => action('ack'), { state: 'NORMAL', transition: 'ACKNOWLEDGED' }],
  ['ACTIVE', 'reset', () => action('reset'), { state: 'NORMAL', transition: 'RESET' }],
  ['ACKNOWLEDGED', 'reset', () => action('reset'), { state: 'NORMAL', transition: 'RESET' }],
  ['LATCHED', 'reset', () => action('reset'), { state: 'NORMAL', transition: 'RESET' }],
  [
    'SNOOZE_DISABLED',
    'snoozeEnded',
    () => ({ type: 'snoozeEnded' }),
    { state: 'NORMAL', transition: 'SNOOZE_ENDED' },
  ],
  ['SNOOZE_DISABLED', 'enable', () => action('enable'), { state: 'NORMAL', transition: 'ENABLED' }],
  ['DISABLED', 'enable', () => action('enable'), { state: 'NORMAL', transition: 'ENABLED' }],
  ['NORMAL', 'ruleGone', () => ({ type: 'ruleGone', at: 6_000 }), { state: 'removed', transition: null }],
  ...(['ACTIVE', 'ACKNOWLEDGED', 'LATCHED', 'SNOOZE_DISABLED', 'DISABLED'] as const).map(
    (s): Row => [
      s,
      'ruleGone',
      () => ({ type: 'ruleGone', at: 6_000 }),
      { state: 'removed', transition: 'RULE_REMOVED' },
    ],
  ),
  ...(['NORMAL', 'ACTIVE', 'ACKNOWLEDGED', 'LATCHED', 'SNOOZE_DISABLED'] as const).map(
    (s): Row => [
      s,
      'snooze',
      () => action('snooze', { forMs: 60_000 }),
      { state: 'SNOOZE_DISABLED', transition: 'SNOOZED' },
    ],
  ),
  ...(['NORMAL', 'ACTIVE', 'ACKNOWLEDGED', 'LATCHED', 'SNOOZE_DISABLED'] as const).map(
    (s): Row => [s, 'disable', () => action('disable'), { state: 'DISABLED', transition: 'DISABLED' }],
  ),
  ...(['SNOOZE_DISABLED', 'DISABLED'] as const).flatMap((s): Row[] => [
    [s, 'breach', breach, noChange(s)],
    [s, 'normal', normal, noChange(s)],
  ]),
  ...ALARM_STATES.map(
    (s): Row => [
      s,
      'skip',
      () => ({ type: 'verdict', verdict: 'skip', at: 1, value: null, score: 0 }),
      noChange(s),
    ],
  ),
];

/** Every (state, action) pair the table does not list is refused. */
const ALLOWED = new Set(
  TABLE.filter(([, input]) => ['ack', 'reset', 'snooze', 'disable', 'enable'].includes(input)).map(
    ([from, input]) => `${from}:${input}`,
  ),
);
const REFUSED = ALARM_STATES.flatMap((s) =>
  (['ack', 'reset', 'snooze', 'disable', 'enable'] as const)
    .filter((a) => !ALLOWED.has(`${s}:${a}`))
    .map((a) => [s, a] as const),
);

describe('A-L2 Transitions: exactly those of the table', () => {
  it.each(TABLE)('%s + %s', (from, _input, make, want) => {
    expect(outcome(stepAlarm(entryIn(from), make(), OPTS, ID))).toEqual(want);
  });

  it.each(REFUSED)('%s + %s is refused, naming the state, and changes nothing', (from, type) => {
    const r = stepAlarm(entryIn(from), action(type, { forMs: 60_000 }), OPTS, ID);
    expect(r.kind).toBe('rejected');
    expect(r.kind === 'rejected' && r.reason).toMatch(new RegExp(`^too-hot@s1 is ${from}: `));
  });

  it('ACTIVE clears to LATCHED when latch is set, and an ack then ends the episode', () => {
    const latched = stepAlarm(entryIn('ACTIVE'), normal(), { ...OPTS, latch: true }, ID);
    expect(outcome(latched)).toEqual({ state: 'LATCHED', transition: 'LATCHED' });
    const acked = stepAlarm((latched as { entry: AlarmEntry }).entry, action('ack'), OPTS, ID);
    expect(acked.kind === 'changed' && acked.transition).toMatchObject({
      transition: 'ACKNOWLEDGED',
      from: 'LATCHED',
      state: 'NORMAL',
      since: 1_000,
      by: 'ana',
      note: 'on it',
    });
  });

  it('an action whose id is among the last applied ones is already applied: no transition', () => {
    const first = stepAlarm(entryIn('ACTIVE'), action('ack', { actionId: 'a-9' }), OPTS, ID);
    const entry = (first as { entry: AlarmEntry }).entry;
    expect(stepAlarm(entry, action('ack', { actionId: 'a-9' }), OPTS, ID)).toEqual({
      kind: 'alreadyApplied',
    });
    expect(stepAlarm(entry, action('ack', { actionId: 'a-10' }), OPTS, ID).kind).toBe('rejected');
  });

  it('seq increases by one on every published transition', () => {
    const r = stepAlarm(entryIn('NORMAL'), breach(), OPTS, ID);
    expect(r.kind === 'changed' && r.entry?.q).toBe(4);
    expect(stepAlarm(entryIn('ACTIVE'), breach(), OPTS, ID)).toMatchObject({ entry: { q: 3 } });
  });
});

describe('A-L1 States: a new alarm starts NORMAL, or DISABLED with startDisabled', () => {
  it('creates entries in the configured state', () => {
    expect(stateOf(newEntry(false))).toBe('NORMAL');
    expect(stateOf(newEntry(true))).toBe('DISABLED');
  });
});

describe('A-L3 Clearing (hysteresis)', () => {
  const opts = { ...OPTS, clearAfter: 3 };
  const run = (inputs: LifecycleInput[]) => {
    let e = entryIn('NORMAL');
    const out: string[] = [];
    for (const i of inputs) {
      const r = stepAlarm(e, i, opts, ID);
      if (r.kind !== 'changed' || !r.entry) throw new Error('unexpected');
      e = r.entry;
      if (r.transition) out.push(r.transition.transition);
    }
    return { out, state: stateOf(e) };
  };

  it('clears after clearAfter consecutive normal readings', () => {
    expect(run([breach(), normal(), normal(), normal()])).toEqual({
      out: ['ALARM', 'RESOLVED'],
      state: 'NORMAL',
    });
    expect(run([breach(), normal(), normal()])).toEqual({ out: ['ALARM'], state: 'ACTIVE' });
  });

  it('a band reading restarts the count; a breach does too', () => {
    expect(run([breach(), normal(), normal(), band(), normal(), normal()]).state).toBe('ACTIVE');
    expect(run([breach(), normal(), normal(), breach(), normal(), normal(), normal()]).out).toEqual([
      'ALARM',
      'RESOLVED',
    ]);
  });
});

describe('A-L4 Time: since, value, peak', () => {
  it('ALARM at the reading time; peak is the worst score of the episode; RESOLVED carries both', () => {
    let e = entryIn('NORMAL');
    const step = (i: LifecycleInput) => {
      const r = stepAlarm(e, i, OPTS, ID);
      if (r.kind !== 'changed' || !r.entry) throw new Error('unexpected');
      e = r.entry;
      return r.transition;
    };
    expect(step(breach(2_000, 40, 5))).toMatchObject({
      at: 2_000,
      clock: 'event',
      since: 2_000,
      value: 40,
      peak: 40,
    });
    step(breach(2_500, 50, 15));
    step(breach(2_700, 44, 9));
    expect(step(normal(3_000, 20))).toMatchObject({
      transition: 'RESOLVED',
      at: 3_000,
      since: 2_000,
      value: 20,
      peak: 50,
      peakAt: 2_500,
    });
  });

  it('a reactivated LATCHED alarm keeps its since', () => {
    const r = stepAlarm(entryIn('LATCHED'), breach(8_000, 41, 1), OPTS, ID);
    expect(r.kind === 'changed' && r.transition).toMatchObject({ since: 1_000, reactivated: true, peak: 42 });
  });

  it('actions happen at their processing time; a snooze ends at its snoozedUntil', () => {
    const snoozed = stepAlarm(entryIn('ACTIVE'), action('snooze', { forMs: 60_000 }), OPTS, ID);
    expect(snoozed.kind === 'changed' && snoozed.transition).toMatchObject({
      at: 5_000,
      clock: 'processing',
      snoozedUntil: 65_000,
      since: 1_000,
      peak: 42,
    });
    const entry = (snoozed as { entry: AlarmEntry }).entry;
    const ended = stepAlarm(entry, { type: 'snoozeEnded' }, OPTS, ID);
    expect(ended.kind === 'changed' && ended.transition).toMatchObject({
      at: 65_000,
      state: 'NORMAL',
      since: null,
    });
  });
});
