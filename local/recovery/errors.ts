/** The recovery tools' own error. */
import { WindowpaneError } from '../../functions/domain/errors.js';

export class RecoveryError extends WindowpaneError {}
