//! Starting the real system: the release binaries, free loopback ports, and processes that are waited for by
//! connecting to their ports (never by sleeping) and are always killed at the end.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';

/** The repository root (e2e/ is one level below it). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/** Where test processes write their logs; kept after the run so a failure can be read. */
export const logDir = path.join(repoRoot, 'e2e', 'logs');

/** Cargo's target directory, wherever CARGO_TARGET_DIR or the workspace puts it. */
export function targetDir(): string {
  const out = execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.toString()).target_directory as string;
}

/** Builds the three release binaries the suite runs (a no-op when `scripts/test-all.sh` already built them). */
export function buildReleaseBinaries(): void {
  execFileSync(
    'cargo',
    ['build', '--release', '-p', 'core-server', '-p', 'cli-client', '-p', 'web-gateway'],
    { cwd: repoRoot, stdio: 'inherit' },
  );
}

/** Paths of the release binaries, read from the environment global setup filled in. */
export interface Binaries {
  coreServer: string;
  switchboard: string;
  webGateway: string;
}

export function binaries(): Binaries {
  const dir = process.env.SB_BIN_DIR;
  if (!dir) throw new Error('SB_BIN_DIR is not set: run the suite with `npx playwright test` (global setup)');
  return {
    coreServer: path.join(dir, 'core-server'),
    switchboard: path.join(dir, 'switchboard'),
    webGateway: path.join(dir, 'web-gateway'),
  };
}

/**
 * A free loopback port OUTSIDE the kernel's ephemeral range, for a server that must come back on the same port
 * after a restart: while it is down, outgoing connections (which take ephemeral ports) cannot grab it.
 */
export async function freeFixedPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: keep the usual default.
  }
  const from = 10_000;
  const span = Math.max(1, low - from);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * span);
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port in ${from}..${low - 1} after 50 tries`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A process of the system under test. Its stderr (logs) goes to a log file; its stdout lines go there too and are
 * kept, so a test can wait for what it prints (e.g. the address it listens on).
 */
export class ServerProcess {
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Every line printed on stdout so far. */
  readonly stdoutLines: string[] = [];
  private lineWaiters: Array<() => void> = [];
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;

  constructor(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    fs.mkdirSync(logDir, { recursive: true });
    this.logPath = path.join(logDir, `${name}-${process.pid}-${Date.now()}.log`);
    const log = fs.openSync(this.logPath, 'a');
    fs.writeSync(log, `$ ${bin} ${args.join(' ')}\n`);
    this.child = spawn(bin, args, {
      cwd: repoRoot,
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', log],
    });
    fs.closeSync(log);
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      fs.appendFileSync(this.logPath, `[stdout] ${line}\n`);
      this.stdoutLines.push(line);
      for (const wake of [...this.lineWaiters]) wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
      this.child.on('error', () => {
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  /** The last lines of the log, for error messages. */
  logTail(lines = 30): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves once something accepts TCP connections on `port`; fails if the process exits or time runs out. */
  async waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) {
        throw new Error(`${this.logPath}: exited (${this.exitCode}) before listening on ${port}\n${this.logTail()}`);
      }
      if (await canConnect(port)) return;
      if (Date.now() > deadline) {
        throw new Error(`${this.logPath}: not listening on ${port} after ${timeoutMs} ms\n${this.logTail()}`);
      }
      // Poll the port: a connection attempt is the event we wait for; this only spaces the attempts.
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Resolves with the match of the first stdout line (printed already or still to come) that `pattern` matches;
   * fails if the process exits or `timeoutMs` passes first.
   */
  async waitForStdout(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.stdoutLines.length; seen++) {
        const m = this.stdoutLines[seen].match(pattern);
        if (m) return m;
      }
      if (!this.running) {
        throw new Error(`${this.logPath}: exited (${this.exitCode}) before printing ${pattern}\n${this.logTail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.logPath}: no ${pattern} after ${timeoutMs} ms\n${this.logTail()}`);
      // Woken by the next stdout line or the exit, whichever comes first.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.lineWaiters = this.lineWaiters.filter((w) => w !== done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 1_000));
        this.lineWaiters.push(done);
        this.exited.then(done);
      });
    }
  }

  /** Sends `signal` and waits until the process is gone (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** True when a TCP connection to 127.0.0.1:`port` succeeds. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
