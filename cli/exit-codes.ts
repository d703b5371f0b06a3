// The daemon's exit codes, one per kind of outcome, so a supervisor can act on
// them (systemd: RestartPreventExitStatus=73). Listed in README "Exit codes".
export const EXIT = {
  /** Stopped by a signal, or nothing to do. */
  ok: 0,
  /** Could not start for another reason (the line says which), another reagent holds the agent dir, or a link gave up. */
  failed: 1,
  /** Bad command line, flag or environment variable. */
  usage: 2,
  /** The journal path holds something that is not a journal (a directory, a dangling symlink): a person must look. Retrying will not help. */
  journalPath: 73,
  /** The disk is full: the journal or the instance lock cannot be created. Temporary: retrying later is right. */
  diskFull: 75,
} as const;
