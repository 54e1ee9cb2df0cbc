//! Builds the release binaries once and starts the system every test shares: `web-gateway` with its embedded
//! core, on free loopback ports. Tests find it through `SB_*` environment variables (inherited by the workers).
import * as path from 'node:path';
import { startGateway } from './gateway';
import { binaries, buildReleaseBinaries, targetDir } from './system';

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!process.env.SB_SKIP_BUILD) buildReleaseBinaries();
  // SB_BIN_DIR may point at binaries built elsewhere (e.g. another checkout's target directory).
  process.env.SB_BIN_DIR ??= path.join(targetDir(), 'release');
  binaries(); // fails early if the directory is unknown

  const gateway = await startGateway('shared-gateway');
  process.env.SB_HTTP_URL = gateway.httpUrl;
  process.env.SB_CORE_ADDR = gateway.coreAddr;
  console.log(`e2e: gateway ${gateway.httpUrl}, core ${gateway.coreAddr}, log ${gateway.process.logPath}`);

  return async () => {
    await gateway.stop();
  };
}
