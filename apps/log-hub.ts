// Where every line about an app goes: its output, pull and build progress,
// and agent messages all land in the app's history and in the live batches
// for the studio link.

import type { AppLogSink } from './executors/command-handler.js';
import type { AppLogHistory } from './log-history.js';
import type { LogBatcher } from './log-batcher.js';

export class AppLogHub implements AppLogSink {
  constructor(
    readonly history: AppLogHistory,
    readonly batcher: LogBatcher,
  ) {}

  /** The app's own output. */
  output(container: string, lines: string[]): void {
    this.history.append(container, lines, true);
    this.batcher.lines(container, lines);
  }

  agent(container: string, text: string): void {
    this.history.append(container, [text], false);
    this.batcher.message(container, text);
  }

  progress(container: string, lines: string[]): void {
    this.history.append(container, lines, false);
    this.batcher.lines(container, lines);
  }

  settle(container: string): void {
    this.history.persist(container);
  }
}
