// Human-readable console lines (LOG_ENCODING=console, -prettyLogging) by
// pino-pretty's synchronous factory. Loaded on demand by the caller and handed
// to createLogger: a JSON-logging device never pays its ~3 MiB, and the
// single-executable bundle sees the import (a runtime require would look for
// pino-pretty on the disk beside the executable).
export type RenderLine = (line: string) => string;

export async function consoleRenderer(pretty: boolean): Promise<RenderLine> {
  const { prettyFactory } = await import('pino-pretty');
  return prettyFactory({ colorize: pretty, singleLine: !pretty, translateTime: 'SYS:standard' });
}
