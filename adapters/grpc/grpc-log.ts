// grpc-js' own logs and traces, routed into the agent's logger. Which
// tracers are on is fixed when grpc-js is first loaded (see grpc-trace.ts);
// the verbosity and the destination are set here when the link starts.
import { format } from 'node:util';
import { logVerbosity, setLogger, setLogVerbosity } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/**
 * Sends grpc-js' messages to `logger`: its errors always (as warnings: grpc-js
 * reports recoverable things there, like a gateway refusing frequent pings),
 * its traces when `debug`, at info level since they were asked for.
 */
export function routeGrpcLogs(logger: Logger, debug: boolean): void {
  const line = (args: unknown[]) => format(...(args as [unknown, ...unknown[]]));
  const log = logger.child({ component: 'grpc-js' });
  setLogger({
    error: (...args: unknown[]) => log.warn(line(args)),
    info: (...args: unknown[]) => log.info(line(args)),
    debug: (...args: unknown[]) => log.info(line(args)),
  });
  setLogVerbosity(debug ? logVerbosity.DEBUG : logVerbosity.ERROR);
}
