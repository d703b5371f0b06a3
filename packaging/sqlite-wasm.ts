// node-sqlite3-wasm's WebAssembly binary inside the single executable. The
// library reads `node-sqlite3-wasm.wasm` from its own directory, which for a
// single executable is the directory of the binary; the bundle (see
// scripts/package/bundle.ts) hands it these bytes as `Module.wasmBinary`
// instead. Outside a single executable: undefined, and the library reads its file.
import { embeddedFiles } from './embedded.js';

export const SQLITE_WASM_KEY = 'node-sqlite3-wasm.wasm';

export function embeddedSqliteWasm(): Uint8Array | undefined {
  const files = embeddedFiles();
  return files ? files.read(SQLITE_WASM_KEY) : undefined;
}
