/** The recovery tools' own error, and how they put any error in one line of a report. */
import { WindowpaneError } from '../../functions/domain/errors.js';

export class RecoveryError extends WindowpaneError {}

/** `Name: message` (the name only when it says more than `Error`). */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}` : String(err);
}
