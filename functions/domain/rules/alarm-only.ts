/**
 * What the anomaly kinds (zscore, ewma, rate) share: they judge a reading against a state
 * built from the sensor's earlier readings in event-time order, which only alarm mode
 * keeps (A-E2). Alert mode sees readings in arrival order with nothing but the previous
 * value of the metric, so these kinds refuse `mode: "alert"` with the reason, and their
 * alert-side hooks are never reached.
 */
import type { RuleKind } from './kind.js';

/** A zod refinement refusing `mode: "alert"` for `type`, with the path `mode`. */
export function refuseAlertMode(type: string) {
  return [
    (r: { mode?: string | undefined }) => r.mode !== 'alert',
    {
      message: `a ${type} rule keeps state over the sensor's readings in event-time order, which only mode "alarm" keeps; remove mode or set it to "alarm"`,
      path: ['mode'],
    },
  ] as [(r: { mode?: string | undefined }) => boolean, { message: string; path: string[] }];
}

/** The alert-mode hooks of a kind that never runs in alert mode. */
export const noAlerts = {
  fires: () => false,
  alertFields: () => ({}),
  describeAlert: () => '',
} satisfies Pick<RuleKind<{ type: string }>, 'fires' | 'alertFields' | 'describeAlert'>;

/**
 * The longest JSON text of a finite double (`-2.2250738585072014e-308`): what one stored
 * number may take in a state item, so a kind's state bound is a count times this.
 */
export const MAX_JSON_NUMBER_BYTES = 24;
