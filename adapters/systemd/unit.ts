// The systemd unit `reagent service install` writes, as a pure function of
// its inputs. Each directive says why it is there; the README ("Running as a
// service") has the same reasons in a table. Quoting follows systemd.service(5)
// "Command lines" and systemd.syntax(7).

export type Sandbox = 'strict' | 'full' | 'off';
export const SANDBOXES: readonly Sandbox[] = ['strict', 'full', 'off'];

export interface UnitSpec {
  /** Absolute executable path, then its arguments. */
  execStart: readonly string[];
  /**
   * The self-update's pre-start guard, run by the last good version
   * (`<agentDir>/known-good/reagent … update-guard`); single executables only.
   */
  execStartPre?: readonly string[];
  /** Directories the daemon writes (agent dir, apps, log, database); they exist before the unit starts. */
  writablePaths: readonly string[];
  /** Writable when present (`-` prefix: a missing one is no error), e.g. `~/.hoop`. */
  optionalWritablePaths: readonly string[];
  environmentFile: string;
  home: string;
  sandbox: Sandbox;
  /** 0: no watchdog. */
  watchdogSec: number;
  /** Stamped into the header comment. */
  version: string;
}

export const UNIT_NAME = 'reagent.service';

export function renderUnit(spec: UnitSpec): string {
  const lines = [
    `# ${UNIT_NAME}, written by "reagent service install" (reagent ${spec.version}).`,
    '# Re-running the install overwrites it; put local changes in a drop-in ("systemctl edit reagent").',
    '',
    '[Unit]',
    'Description=reagent on-device agent (IronFlock studio link, hoop gateway link, Docker apps)',
    '# Apps are Docker containers and the links dial out: start after the engine and a configured',
    '# network. Wants= is weak, so a device without Docker (or a network-online provider) still starts.',
    'Wants=network-online.target docker.service',
    'After=network-online.target docker.service',
    '# Restart=always must never give up, however often the agent fails.',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    '# Ready means: journal open, apps reconciled, links started. Node has no AF_UNIX datagram',
    '# socket, so readiness and watchdog pings come from a spawned systemd-notify: a child process.',
    'Type=notify',
    'NotifyAccess=all',
    ...(spec.execStartPre
      ? [
          '# Self-update: the last good version judges a new one on probation before it starts (counts its',
          '# starts, restores the previous version after 3 that did not pass). "-": never keeps the agent down.',
          `ExecStartPre=-${spec.execStartPre.map((a) => quoteArg(a, true)).join(' ')}`,
          '# The version the self-update activated: <agent dir>/current -> versions/<version>.',
        ]
      : []),
    `ExecStart=${spec.execStart.map((a) => quoteArg(a, true)).join(' ')}`,
    '# Gateway credentials and the proxy given at install time (0600, root): never in this world-readable file.',
    `EnvironmentFile=${quoteArg(`-${spec.environmentFile}`)}`,
    `Environment=${quoteArg(`HOME=${spec.home}`)}`,
    'Restart=always',
    'RestartSec=5',
    '# A first start may migrate and compact a large journal on a slow SD card.',
    'TimeoutStartSec=300',
    'TimeoutStopSec=30',
  ];
  if (spec.watchdogSec > 0) {
    lines.push('# No ping for this long (a blocked event loop): systemd kills the agent and Restart= brings it back.', `WatchdogSec=${spec.watchdogSec}`);
  }
  lines.push(
    '# Gateway relays hold many sockets; the default soft limit (1024) is too low.',
    'LimitNOFILE=65536',
    '# Under memory pressure the kernel should pick an app before the agent that manages the apps.',
    'OOMScoreAdjust=-500',
    ...sandboxLines(spec),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}

function sandboxLines(spec: UnitSpec): string[] {
  const notSet = [
    '# Deliberately not set: NoNewPrivileges= (exec and terminal sessions are root shells that',
    '# may use sudo, su and file capabilities), MemoryDenyWriteExecute= (V8 compiles code at run',
    '# time), PrivateDevices=/DeviceAllow=/ProtectClock= (they cut off /dev/ptmx: no terminals),',
    '# SystemCallArchitectures=native (32-bit tools on 64-bit kernels), CapabilityBoundingSet=',
    '# (Docker, network management and root sessions need the capabilities).',
  ];
  if (spec.sandbox === 'off') {
    return ['', '# --sandbox=off: exec and terminal sessions administer the whole system (apt, /etc).', ...notSet];
  }
  const common = [
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectKernelTunables=yes',
    'ProtectControlGroups=yes',
    'LockPersonality=yes',
    'RestrictRealtime=yes',
  ];
  if (spec.sandbox === 'full') {
    return [
      '',
      '# --sandbox=full: /usr, /boot and /etc are read-only for the agent and everything it starts,',
      '# including exec and terminal sessions; the rest of the system stays writable.',
      'ProtectSystem=full',
      ...common,
      ...notSet,
    ];
  }
  const writable = [...spec.writablePaths.map((p) => quoteArg(p)), ...spec.optionalWritablePaths.map((p) => quoteArg(`-${p}`))];
  return [
    '',
    '# --sandbox=strict: the whole file system is read-only for the agent and everything it starts',
    '# (exec and terminal sessions included) except its own directories below and a private /tmp.',
    '# The Docker and D-Bus sockets stay usable: connecting to a socket is not a write.',
    'ProtectSystem=strict',
    `ReadWritePaths=${writable.join(' ')}`,
    'PrivateTmp=yes',
    ...common,
    ...notSet,
  ];
}

/**
 * One word of a systemd setting value: bare when it holds nothing systemd
 * would interpret, else double-quoted with `\` and `"` escaped. `%`
 * (specifiers) becomes `%%`; in a command line (`command`) `$` (variable
 * expansion) also becomes `$$`, elsewhere it is literal.
 */
export function quoteArg(arg: string, command = false): string {
  if (arg === '' || /[\u0000-\u001f\u007f]/.test(arg)) throw new Error(`cannot put ${JSON.stringify(arg)} in a systemd unit: empty or a control character`);
  const percent = arg.replace(/%/g, '%%');
  const escaped = command ? percent.replace(/\$/g, '$$$$') : percent;
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `KEY="value"` lines of an EnvironmentFile (0600). */
export function renderEnvironmentFile(vars: ReadonlyMap<string, string>, version: string): string {
  const lines = [`# Written by "reagent service install" (reagent ${version}). Holds credentials: keep it 0600.`];
  for (const [name, value] of vars) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`environment variable name ${JSON.stringify(name)}: expected letters, digits and _`);
    if (/[\r\n\u0000]/.test(value)) throw new Error(`environment variable ${name}: a value with a line break cannot go into an EnvironmentFile`);
    lines.push(`${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '\\$').replace(/`/g, '\\`')}"`);
  }
  return `${lines.join('\n')}\n`;
}
