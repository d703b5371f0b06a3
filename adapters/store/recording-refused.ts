// A recording this agent can read but must not replay (written by a newer
// agent, in a format or schema it does not know): `reagent replay` says why and exits 3.
export class RecordingRefusedError extends Error {
  override name = 'RecordingRefusedError';
}
