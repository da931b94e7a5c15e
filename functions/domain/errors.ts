/**
 * The common base of windowpane's named errors. Every error the code throws on purpose
 * extends it, so a caller (a CLI's exit path, a test) can tell "windowpane refused this,
 * and says why" from an unexpected failure, and `name` is always the class's own name.
 */
export class WindowpaneError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error in one line for a report or a message: `Name: message`, the name only when it says more than `Error`. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
}
