// The usage of each command, printed by `reagent COMMAND -h`, `--help` and
// `reagent help COMMAND`. One text per command of the table (the type makes a
// missing one a compile error); the global flags are in `reagent -help`.
import type { CommandName } from './flags.js';

const GATEWAY_CLIENT_OPTIONS = [
  '  --gateway HOST:PORT       the development gateway (default 127.0.0.1:8010)',
  '  --tls-ca FILE             CA of a TLS gateway (PEM)',
  '  --tls-server-name NAME    name expected on its certificate; with --tls-ca, turns TLS on',
];

export const COMMAND_USAGE: Record<CommandName, string> = {
  replay: [
    'usage: reagent replay FILE [--until SEQ] [--actor ID] [--run ID] [--json] [--inspect[=HOST:PORT]]',
    '',
    'Re-runs a recording (a journal database, an export or a bug report) on virtual time and compares',
    'every outcome with the recorded one.',
    '',
    '  --until SEQ               stop after this sequence number',
    '  --actor ID                only this actor',
    '  --run ID                  only this run of the daemon',
    '  --json                    one JSON object instead of the verdict line',
    '  --inspect[=HOST:PORT]     then serve the inspector on the replayed history (127.0.0.1:9230)',
    '',
    'Exit status: 0 reproduced, 1 diverged, 3 refused (another version made it), 2 unreadable or bad usage.',
  ].join('\n'),
  'start agent': [
    'usage: reagent [flags] start agent',
    '',
    "hoop's spelling of running the agent: the gateway link alone, walking hoop's credential order",
    '(AUTO_REGISTER, HOOP_KEY, HOOP_GRPCURL+HOOP_TOKEN, ~/.hoop/agent.toml, a local gateway) down to',
    'web registration. The global flags go before "start agent" ("reagent -help" lists them), e.g.',
    '  reagent -agentDir /opt/reagent -debug-grpc start agent',
  ].join('\n'),
  bugreport: [
    'usage: reagent [flags] bugreport [flags] [-o FILE] [--force] [--no-gzip] [--since DURATION | --from SEQ]',
    '',
    'Writes one redacted, replayable file: the journal slice, runs, machine definitions, the effective',
    "configuration and the log tail, gzip-compressed. Give the daemon's own -agentDir, -dbFileName, -config",
    'and -logFile, before or after "bugreport"; it works while the daemon runs.',
    '',
    '  -o FILE                   output file (default reagent-bugreport-<time>.ndjson.gz; a .ndjson name is plain)',
    '  --no-gzip                 plain NDJSON',
    '  --force                   replace FILE',
    '  --since DURATION          only the last 30m, 2h, 1d ...',
    '  --from SEQ                only from this sequence number',
  ].join('\n'),
  gateway: [
    'usage: reagent gateway [--listen HOST:PORT] [--api-listen HOST:PORT] [--data-dir DIR] [--tls-cert FILE --tls-key FILE]',
    '                       [--advertise grpc(s)://HOST:PORT] [--require-token] [--offline-wait MS]',
    '',
    "Runs the development gateway: hoop's gateway side of the agent protocol, for tests and development.",
    '',
    '  --listen HOST:PORT        gRPC listener for agents and clients (default 127.0.0.1:8010)',
    '  --api-listen HOST:PORT    HTTP API and registration page (default 127.0.0.1:8009)',
    '  --data-dir DIR            keep agents across restarts (default: in memory)',
    '  --tls-cert, --tls-key     serve gRPC over TLS',
    '  --advertise URL           address put into the DSNs it hands out',
    '  --require-token           refuse loopback agents without a token (default: accepted as "local")',
    '  --offline-wait MS         how long a client waits for an offline agent (default 15000)',
  ].join('\n'),
  admin: [
    'usage: reagent admin create agent NAME [--api URL] [--mode standard|embedded|multi-connection] [--legacy-token]',
    '',
    'Creates an agent on the development gateway and prints its DSN (for HOOP_KEY).',
    '',
    '  --api URL                 the gateway HTTP API (default http://127.0.0.1:8009)',
    '  --mode MODE               agent mode put into the DSN (default standard)',
    '  --legacy-token            register an x-agt- token instead (for HOOP_GRPCURL + HOOP_TOKEN)',
  ].join('\n'),
  connect: [
    'usage: reagent connect AGENT --tcp HOST:PORT [--listen HOST:PORT] [--gateway HOST:PORT] [--tls-ca FILE] [--tls-server-name NAME]',
    '',
    'Forwards a local port through an agent to HOST:PORT on its side, until interrupted.',
    '',
    '  --tcp HOST:PORT           the target, as the agent dials it (required)',
    '  --listen HOST:PORT        the local listener (default 127.0.0.1:0, a free port)',
    ...GATEWAY_CLIENT_OPTIONS,
  ].join('\n'),
  exec: [
    'usage: reagent exec AGENT [--gateway HOST:PORT] [--tls-ca FILE] [--tls-server-name NAME] -- CMD [ARGS...]',
    '',
    "Runs a command through an agent (no shell unless the command is one): stdin, stdout and stderr are",
    "relayed, and the exit status is the command's.",
    '',
    ...GATEWAY_CLIENT_OPTIONS,
  ].join('\n'),
  service: [
    'usage: reagent service install [--dry-run] [-config FILE] [-agentDir DIR] [-appsDir DIR] [-noStart] [-proxy URL]',
    '                               [--sandbox strict|full|off] [--watchdog SECONDS] [-- DAEMON FLAGS...]',
    '       reagent service uninstall [--dry-run]',
    '       reagent service start|stop|status',
    '',
    'Runs this executable as the systemd service reagent.service (root; Restart=always, after Docker and',
    'the network, readiness and watchdog through systemd-notify). install writes',
    '/etc/systemd/system/reagent.service, the gateway variables (HOOP_*) and the proxy of this',
    'environment into /etc/reagent/reagent.env (0600), then runs systemctl daemon-reload, enable and',
    'restart. --dry-run prints the unit and writes nothing.',
    '',
    "  -config FILE              the device's .flock (the studio link)",
    '  -agentDir DIR             agent home (default /opt/reagent)',
    '  -appsDir DIR              apps and their data (default <agentDir>/apps)',
    '  -noStart                  enable but do not start it now',
    '  -proxy URL                HTTP(S) proxy for the agent (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)',
    '  --sandbox LEVEL           strict (default): read-only system except the agent\'s directories;',
    '                            full: read-only /usr, /boot, /etc; off: none (sessions administer the system)',
    '  --watchdog SECONDS        restart the agent when its event loop stalls this long (default 60, 0 = off)',
    '  -- DAEMON FLAGS           further daemon flags for the unit, e.g. -- -debug -inspect',
  ].join('\n'),
  agent: [
    'usage: reagent agent start [--dry-run] [install options] | stop | logs | remove',
    '',
    "hoop's spelling (\"hoop agent start\"): start installs and starts reagent.service running",
    '"reagent start agent" (the gateway link alone) with HOOP_KEY and the other gateway variables of',
    'this environment in /etc/reagent/reagent.env (0600); stop stops it; logs follows its journal;',
    'remove uninstalls it. A system unit (root), where hoop writes a user unit. The install options',
    'are those of "reagent service install".',
  ].join('\n'),
  version: ['usage: reagent version', '', 'Prints the version, the commit, the build date and the Node version (like -version).'].join('\n'),
  help: ['usage: reagent help [COMMAND]', '', 'Prints the flags and commands, or the usage of one command.'].join('\n'),
  'self-test': [
    'usage: reagent self-test pty',
    '',
    'Loads the PTY addon this executable carries and runs a shell on a pseudo-terminal (for tests and support).',
  ].join('\n'),
  'update-guard': [
    'usage: reagent -agentDir DIR update-guard',
    '',
    'Judges a self-update on probation before the daemon starts (the unit\'s ExecStartPre=, run by the last',
    'good version): counts a start of the new version and, after 3 starts that did not pass, restores the',
    'previous version and blacklists the new one. Always exits 0.',
  ].join('\n'),
};

/** `-h`, `-help`, `--help` among a command's own arguments (before a `--`). */
export function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--h' || a === '-help' || a === '--help');
}
