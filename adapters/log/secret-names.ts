// Which field names hold secrets, and which hold an app's environment. The
// redactor (logs, exports, the inspector, the Stately stream, -debugMessaging)
// and the bug report's collectors ask these two questions of every key.
//
// A name is first split into lowercase words at `_`, `-`, `.`, spaces,
// camelCase humps and letter/digit changes (`HOOP_KEY` -> hoop key,
// `apiKey` -> api key, `simPIN2` -> sim pin 2). Then:
//
// 1. Fragments that mean "secret" wherever they appear, even inside a word:
//    token, secret, passw(ord/d), passphrase, credential, authorization,
//    cookie, dsn, apikey, privatekey. They are rare enough inside ordinary
//    words that matching them anywhere costs little and catches `xAuthToken`,
//    `mysqlpassword`, `config_passphrase`.
// 2. Short words that are secrets only as whole words, because as fragments
//    they sit inside ordinary names:
//      pass  -> `db_pass`, `PASS`;        not `passive`, `bypass`, `compass`
//      pwd   -> `MYSQL_PWD`, `pwd`;       not the shell's `PWD`/`OLDPWD`
//                (exactly those uppercase names: a working directory)
//      pin   -> `pin`, `sim_pin`;          not `ping`, `mapping`, `spinner`
//      auth  -> `auth`, `x_auth`, `authHeader`, and words starting with
//               authoriz/authentic (`authentication`: the .flock's client key);
//               not `authid`, `authrole`, `authmethods` (WAMP identities),
//               nor `author`, `authority`
// 3. `*_key`: a last word `key` (or `keys`) after at least one other word:
//    `api_key`, `HOOP_KEY`, `signingKey`, `ssh_keys`. A bare `key` is not one
//    (it names map keys everywhere). IronFlock's row identifiers end in `_key`
//    too (`app_key`, `swarm_key`, `device_key`, ...): they are integers that
//    identify, not authenticate, every log line and journal record needs them
//    and replays match on them, so exactly those names are kept (IRONFLOCK_KEYS).
// 4. `session`: a last word `session` holding a string or an object (a session
//    cookie or token: `session`, `user_session`). A number under that name is a
//    WAMP session id or our session counter, kept for debugging, and so are
//    identifiers named after a session (`session_id`, `sessionId`: last word `id`).
//
// 5. A fingerprint (`sha256:` + 16 hex, store/secret-store.ts) is never one,
//    whatever it is the fingerprint of (`tokenFingerprint`): it is what
//    events carry so that no secret has to.
//
// Booleans are never secret (`hasToken: true`, `authFailed: false` help
// debugging); a number under a secret name is (a PIN is one).

/** IronFlock's database keys (research: ironflock-reagent.md): identifiers, never credentials. */
const IRONFLOCK_KEYS = new Set([
  'app_key',
  'swarm_key',
  'device_key',
  'release_key',
  'new_release_key',
  'requestor_account_key',
  'device_owner_account_key',
  'device_to_app_key',
  'instance_key',
  'entity_key',
  'account_key',
]);

const SECRET_FRAGMENT = /token|secret|passw|passphrase|credential|authorization|cookie|dsn|api[-_]?key|private[-_]?key/i;
/** store/secret-store.ts's FINGERPRINT, repeated so the log layer imports nothing from the store. */
const FINGERPRINT_VALUE = /^sha256:[0-9a-f]{16}$/;
const SECRET_WORDS = new Set(['pass', 'pwd', 'pin', 'auth']);
const SHELL_DIRECTORIES = new Set(['PWD', 'OLDPWD']);

/** Names that hold an app's environment: `{NAME: value}` or `["NAME=value"]`. */
const ENVIRONMENT_NAMES = new Set(['environment', 'environment_template', 'environment_variables', 'env']);

/** `simPIN2_code` -> ['sim', 'pin', '2', 'code']. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([A-Za-z])([0-9])/g, '$1 $2')
    .replace(/([0-9])([A-Za-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

/**
 * Whether the value under `name` must be hidden. `value` decides the cases
 * that depend on it (booleans never, session numbers not); without one, the
 * question is "could this name hold a secret string".
 */
export function isSecretName(name: string, value: unknown = ''): boolean {
  if (typeof value === 'boolean') return false;
  // Length and prefix first: this runs for every string field the redactor walks.
  if (typeof value === 'string' && value.length === 23 && value.startsWith('sha256:') && FINGERPRINT_VALUE.test(value) && /fingerprint$/i.test(name)) return false;
  if (SECRET_FRAGMENT.test(name)) return true;
  if (SHELL_DIRECTORIES.has(name)) return false;
  const words = nameWords(name);
  if (words.length === 0) return false;
  for (const w of words) {
    if (SECRET_WORDS.has(w) || w.startsWith('authoriz') || w.startsWith('authentic')) return true;
  }
  const last = words[words.length - 1];
  if ((last === 'key' || last === 'keys') && words.length > 1) return !IRONFLOCK_KEYS.has(words.join('_'));
  if (last === 'session') return typeof value !== 'number';
  return false;
}

/** Whether `name` holds an app's environment (names are shown, values hidden). */
export function isEnvironmentName(name: string): boolean {
  return ENVIRONMENT_NAMES.has(nameWords(name).join('_'));
}
