// The address of an app actor, `app:<STAGE>:<appKey>`: the one place it is
// formatted and parsed. Ids read back from outside (a journal, a transition
// seen by a listener) are parsed here; inside, the branded type flows on.
import { actorId, type ActorId } from '../actors/contracts.js';
import { STAGES, isStage, type Stage } from './app-states.js';

/** The actor of one app in one stage. Only `AppId.format` and `AppId.parse` make one. */
export type AppId = ActorId<'app'>;

/** What an app id names. */
export interface AppIdParts {
  stage: Stage;
  appKey: string;
}

export type ParsedAppId = ({ ok: true; id: AppId } & AppIdParts) | { ok: false; reason: string };

const PREFIX = 'app';
const EXPECTED = `app:<${STAGES.join('|')}>:<app key> (an app key is non-empty and has no ":")`;

export const AppId = {
  format(stage: Stage, appKey: string): AppId {
    return actorId('app', `${PREFIX}:${stage}:${appKey}`);
  },

  /** Parses an actor id; a bad one is refused with what was expected. */
  parse(id: string): ParsedAppId {
    const parts = id.split(':');
    const [prefix, stage, appKey] = parts;
    if (parts.length !== 3 || prefix !== PREFIX || !isStage(stage) || !appKey) {
      return { ok: false, reason: `${JSON.stringify(id)} is not an app actor id: expected ${EXPECTED}` };
    }
    return { ok: true, id: id as AppId, stage, appKey };
  },

  /** The parts of an id, or undefined when it names no app (the actor is of another machine). */
  partsOf(id: string): (AppIdParts & { id: AppId }) | undefined {
    const parsed = AppId.parse(id);
    return parsed.ok ? { id: parsed.id, stage: parsed.stage, appKey: parsed.appKey } : undefined;
  },
};
