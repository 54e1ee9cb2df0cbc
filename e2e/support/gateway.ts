//! Starting `web-gateway` (with its embedded core, or against a separate `core-server`) and `core-server` on
//! free loopback ports, each with its own temporary spool directory.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { binaries, freeFixedPort, ServerProcess } from './system';

export interface Gateway {
  /** Base URL of the web pages, e.g. `http://127.0.0.1:41234`. */
  httpUrl: string;
  /** `host:port` where terminal clients reach the core (embedded or separate). */
  coreAddr: string;
  process: ServerProcess;
  stop(): Promise<void>;
}

export interface CoreServer {
  /** `host:port` the core listens on; a restart binds the same one. */
  addr: string;
  port: number;
  process: ServerProcess;
}

/** Options for a gateway that uses an existing core instead of embedding one. */
export interface ExternalCore {
  addr: string;
  token: string;
}

/**
 * Starts `web-gateway`. Its HTTP port (and its embedded core's port) are chosen by the kernel (`:0`) and read back
 * from what it prints once the core link is up ("open http://…", "--server ADDR"), so runs never collide and
 * there is no window between picking a port and binding it.
 */
export async function startGateway(name: string, external?: ExternalCore): Promise<Gateway> {
  const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-spool-'));
  const args = ['--http', '127.0.0.1:0', '--spool-dir', spool];
  if (external) args.push('--core', external.addr, '--gateway-token', external.token);
  else args.push('--core-listen', '127.0.0.1:0');
  const proc = new ServerProcess(name, binaries().webGateway, args);
  try {
    const [, httpUrl] = await proc.waitForStdout(/open (http:\/\/[^\s/]+)/);
    const [, coreAddr] = await proc.waitForStdout(/--server (\S+)/);
    await proc.waitForPort(Number(new URL(httpUrl).port));
    return {
      httpUrl,
      coreAddr,
      process: proc,
      async stop() {
        await proc.stop();
        fs.rmSync(spool, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await proc.stop('SIGKILL');
    fs.rmSync(spool, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Starts `core-server` on `port` with the given gateway token. Without `port` it takes a free one outside the
 * ephemeral range, so that a restart can bind the same port again.
 */
export async function startCore(name: string, token: string, port?: number): Promise<CoreServer> {
  const p = port ?? (await freeFixedPort());
  const addr = `127.0.0.1:${p}`;
  const proc = new ServerProcess(name, binaries().coreServer, ['--listen', addr, '--gateway-token', token]);
  await proc.waitForPort(p);
  return { addr, port: p, process: proc };
}
