//! A real terminal user: the `switchboard` binary in its scripted `--json` mode (stdin is a pipe, one command per
//! line; stdout is one JSON object per event), with its own temporary download directory.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { binaries, logDir } from './system';

/** One JSON line the client printed. */
export type Event = Record<string, any>;

/** A predicate over events, with a description used when the wait times out. */
export interface Wanted {
  what: string;
  test: (e: Event) => boolean;
}

interface Waiter {
  wanted: Wanted;
  from: number;
  resolve: (e: Event) => void;
}

export class Terminal {
  readonly name: string;
  /** The directory received files land in (`--download-dir`), removed by `close()`. */
  readonly downloadDir: string;
  /** Every event printed so far, in order. */
  readonly events: Event[] = [];
  /** Everything printed on stderr (errors are reported there). */
  stderr = '';
  private readonly child: ChildProcess;
  private waiters: Waiter[] = [];
  private exitCode: number | null | undefined = undefined;
  private readonly exited: Promise<number | null>;
  private readonly log: fs.WriteStream;

  private constructor(name: string, coreAddr: string, extraArgs: string[]) {
    this.name = name;
    this.downloadDir = fs.mkdtempSync(path.join(os.tmpdir(), `sb-e2e-${name}-`));
    fs.mkdirSync(logDir, { recursive: true });
    this.log = fs.createWriteStream(path.join(logDir, `terminal-${name}.log`));
    const args = ['--server', coreAddr, '--name', name, '--json', '--download-dir', this.downloadDir, ...extraArgs];
    this.log.write(`$ switchboard ${args.join(' ')}\n`);
    this.child = spawn(binaries().switchboard, args, {
      cwd: this.downloadDir,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.log.write(`[stderr] ${chunk}`);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exitCode = code;
        this.log.write(`[exit] ${code}\n`);
        resolve(code);
        // Nothing more will arrive: fail every pending wait now instead of at its timeout.
        for (const w of this.waiters) w.resolve(undefined as any);
        this.waiters = [];
      });
    });
  }

  /** Spawns a client named `name` against the core at `coreAddr` and waits until it has joined the room. */
  static async start(name: string, coreAddr: string, extraArgs: string[] = []): Promise<Terminal> {
    const t = new Terminal(name, coreAddr, extraArgs);
    await t.waitFor(isWelcome(), 15_000);
    return t;
  }

  private onLine(line: string): void {
    this.log.write(`${line}\n`);
    let event: Event;
    try {
      event = JSON.parse(line);
    } catch {
      event = { kind: 'unparsed', line };
    }
    this.events.push(event);
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.wanted.test(event)) w.resolve(event);
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Writes one command line (plain text goes to the room). */
  send(line: string): void {
    if (line.includes('\n')) throw new Error('one command per line');
    this.child.stdin!.write(`${line}\n`);
  }

  /**
   * Resolves with the first event (already printed or still to come) that `wanted` accepts; rejects after
   * `timeoutMs` or when the client exits, listing what it did print.
   */
  waitFor(wanted: Wanted, timeoutMs = 10_000, fromIndex = 0): Promise<Event> {
    const seen = this.events.slice(fromIndex).find((e) => wanted.test(e));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const fail = (why: string) =>
        reject(
          new Error(
            `terminal ${this.name}: ${why} waiting for ${wanted.what}\n` +
              `events:\n${this.events.map((e) => JSON.stringify(e)).join('\n')}\nstderr:\n${this.stderr}`,
          ),
        );
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        fail(`timed out after ${timeoutMs} ms`);
      }, timeoutMs);
      const waiter: Waiter = {
        wanted,
        from: fromIndex,
        resolve: (e) => {
          clearTimeout(timer);
          if (e === undefined) fail(`exited (${this.exitCode})`);
          else resolve(e);
        },
      };
      if (this.exitCode !== undefined) {
        clearTimeout(timer);
        fail(`exited (${this.exitCode})`);
        return;
      }
      this.waiters.push(waiter);
    });
  }

  /** Events so far that `wanted` accepts. */
  all(wanted: Wanted): Event[] {
    return this.events.filter((e) => wanted.test(e));
  }

  /** Ends stdin (the client finishes its transfers and exits) and waits for the exit code. */
  async quit(timeoutMs = 10_000): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Stops the client however it is doing and removes its download directory. */
  async close(): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.stdin!.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
      await this.exited;
      clearTimeout(timer);
    }
    this.log.end();
    fs.rmSync(this.downloadDir, { recursive: true, force: true });
  }
}

// Predicates over the client's JSON events (`--json`; format in README.md, "Chat from the terminal").

export function isWelcome(): Wanted {
  return { what: 'welcome', test: (e) => e.kind === 'welcome' };
}

/** A room message from `from` whose text is exactly `text`. */
export function roomMessage(from: string, text: string): Wanted {
  return {
    what: `room message from ${from}: ${JSON.stringify(text)}`,
    test: (e) => e.kind === 'message' && e.from === from && e.text === text,
  };
}

/** A private message from `from` whose text is exactly `text`. */
export function privateMessage(from: string, text: string): Wanted {
  return {
    what: `private message from ${from}: ${JSON.stringify(text)}`,
    test: (e) => e.kind === 'private' && e.from === from && e.text === text,
  };
}

/** Any event whose JSON mentions `needle` (to prove that something did NOT arrive). */
export function mentioning(needle: string): Wanted {
  return { what: `anything mentioning ${JSON.stringify(needle)}`, test: (e) => JSON.stringify(e).includes(needle) };
}

/** A file from `from` saved completely (SHA-256 checked) in the download directory; `path` is absolute. */
export function fileSaved(from: string, name?: string): Wanted {
  return {
    what: `file from ${from}${name ? ` named ${name}` : ''} saved`,
    test: (e) => e.kind === 'file_received' && e.from === from && (name === undefined || e.name === name),
  };
}

/** A user list (answer to `/users`) that holds `name` with the given kind. */
export function usersListing(name: string, kind: 'web' | 'terminal'): Wanted {
  return {
    what: `user list with ${name} (${kind})`,
    test: (e) => e.kind === 'users' && Array.isArray(e.users) && e.users.some((u: any) => u.name === name && u.kind === kind),
  };
}

/** This client finished sending a file. */
export function fileSent(): Wanted {
  return { what: 'file sent', test: (e) => e.kind === 'file_sent' };
}
