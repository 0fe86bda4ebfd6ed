/** Structured sandbox log lines. Callers never pass plaintext PII. */
export type SandboxLogger = (event: string, fields?: Record<string, unknown>) => void;

export const silentLogger: SandboxLogger = () => {};

/** One JSON line per event on stdout (used by `npm run sandbox`). */
export const jsonLineLogger: SandboxLogger = (event, fields = {}) => {
  process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), event, ...fields })}\n`);
};
