// write_data: chunked upload of a DEV build archive (see file-transfer.ts).
import { result, type ProcedureDef } from '../device-api.js';
import { parseTransferChunk } from '../file-transfer.js';
import type { ProcedureDeps } from './deps.js';

export function transferProcedures(deps: ProcedureDeps): ProcedureDef[] {
  return [
    {
      name: 'write_data',
      privilege: 'DEVELOP',
      async handle({ args }) {
        await deps.transfers.write(parseTransferChunk(args));
        return result();
      },
    },
  ];
}
