// Which grpc-js tracers `-debug-grpc` / LOG_GRPC turn on. grpc-js reads
// GRPC_TRACE once, when it is first loaded, so cli/main.cts applies this to
// the environment before anything imports grpc-js; hence no imports here.

/** -debug-grpc / LOG_GRPC=1: connection-level tracers; LOG_GRPC=2: every tracer. */
const TRACERS_LEVEL_1 = 'channel,subchannel,subchannel_refcount,transport,keepalive,connectivity_state,dns_resolver,resolving_load_balancer,pick_first,server,server_call';

/**
 * The GRPC_TRACE / GRPC_VERBOSITY grpc-js should start with, given the
 * command line and environment; null when gRPC debugging is off or the user
 * chose their own GRPC_TRACE.
 */
export function grpcTraceEnv(argv: readonly string[], env: NodeJS.ProcessEnv): { GRPC_TRACE: string; GRPC_VERBOSITY: string } | null {
  if (env['GRPC_TRACE'] || env['GRPC_NODE_TRACE']) return null;
  const level = env['LOG_GRPC']?.trim();
  const end = argv.indexOf('--');
  const flags = end < 0 ? argv : argv.slice(0, end);
  const flagOn = flags.some((a) => /^--?debug-grpc(=(1|t|T|true|TRUE|True))?$/.test(a));
  if (level === '2') return { GRPC_TRACE: 'all', GRPC_VERBOSITY: 'DEBUG' };
  if (flagOn || level === '1') return { GRPC_TRACE: TRACERS_LEVEL_1, GRPC_VERBOSITY: 'DEBUG' };
  return null;
}
