// A TCP proxy in front of a test redis-server that lets a test control timing precisely:
//  - hold(): Redis's replies are kept back (commands still reach Redis), release() lets them
//    through — a client stays in ioredis's 'connect' state for as long as the test wants;
//  - onCommand: called with each client command (parsed RESP) before it is forwarded, so a
//    test can run something against Redis exactly between two commands of a pipeline;
//  - down()/up(): every connection is dropped and new ones are refused (nothing listens on the
//    port) until up() listens on the same port again — an outage clients cannot get through.
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';

export interface ProxyConn {
  /** Reply bytes forwarded to the client so far. */
  down: number;
  /** The client's CLIENT SETNAME (ioredis connectionName, e.g. "aurora-subscriber"), once seen. */
  name?: string;
}

export interface RedisProxy {
  url: string;
  port: number;
  /** Holds replies to every connection, or only to those `only` picks (e.g. by name). */
  hold(only?: (conn: ProxyConn) => boolean): void;
  release(): void;
  /** True once any client sent a command with an argument equal to `arg`. */
  sawArg(arg: string): boolean;
  onCommand: ((args: string[], conn: ProxyConn) => Promise<void> | void) | null;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Splits complete RESP arrays of bulk strings off the front of `buf`. */
function parseCommands(buf: Buffer): { commands: { args: string[]; raw: Buffer }[]; rest: Buffer } {
  const commands: { args: string[]; raw: Buffer }[] = [];
  let pos = 0;
  outer: while (pos < buf.length) {
    const start = pos;
    if (buf[pos] !== 0x2a /* '*' */) throw new Error('proxy: inline commands are not supported');
    let eol = buf.indexOf('\r\n', pos);
    if (eol < 0) break;
    const n = Number(buf.subarray(pos + 1, eol).toString());
    pos = eol + 2;
    const args: string[] = [];
    for (let i = 0; i < n; i++) {
      eol = buf.indexOf('\r\n', pos);
      if (eol < 0) {
        pos = start;
        break outer;
      }
      const len = Number(buf.subarray(pos + 1, eol).toString());
      if (eol + 2 + len + 2 > buf.length) {
        pos = start;
        break outer;
      }
      args.push(buf.subarray(eol + 2, eol + 2 + len).toString());
      pos = eol + 2 + len + 2;
    }
    commands.push({ args, raw: buf.subarray(start, pos) });
  }
  return { commands, rest: buf.subarray(pos) };
}

export async function startRedisProxy(redisPort: number): Promise<RedisProxy> {
  let held = false;
  let holdOnly: ((conn: ProxyConn) => boolean) | undefined;
  const waiting: (() => void)[] = [];
  const seen = new Set<string>();
  const sockets = new Set<Socket>();

  const proxy: RedisProxy = {
    url: '',
    port: 0,
    hold(only) {
      held = true;
      holdOnly = only;
    },
    release() {
      held = false;
      for (const flush of waiting.splice(0)) flush();
    },
    sawArg: (arg) => seen.has(arg),
    onCommand: null,
    async down() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    async up() {
      await new Promise<void>((resolve) => server.listen(proxy.port, '127.0.0.1', () => resolve()));
    },
    async close() {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server: Server = createServer((client) => {
    const upstream = tcpConnect(redisPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const conn: ProxyConn = { down: 0 };
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);

    // server -> client, held while `held`
    let pending: Buffer[] = [];
    const flush = () => {
      const data = Buffer.concat(pending);
      pending = [];
      if (data.length === 0) return;
      conn.down += data.length;
      client.write(data);
    };
    upstream.on('data', (chunk: Buffer) => {
      pending.push(chunk);
      if (held && (!holdOnly || holdOnly(conn))) waiting.push(flush);
      else flush();
    });

    // client -> server, command by command through the hook
    let inbuf = Buffer.alloc(0);
    let chain: Promise<void> = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      inbuf = Buffer.concat([inbuf, chunk]);
      const { commands, rest } = parseCommands(inbuf);
      inbuf = Buffer.from(rest);
      for (const { args, raw } of commands) {
        const copy = Buffer.from(raw);
        chain = chain.then(async () => {
          for (const a of args) seen.add(a);
          if (args.length === 3 && args[0]!.toLowerCase() === 'client' && args[1]!.toLowerCase() === 'setname') conn.name = args[2];
          const hook = proxy.onCommand;
          if (hook) await hook(args, conn);
          upstream.write(copy);
        });
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('proxy: no port');
  proxy.port = addr.port;
  proxy.url = `redis://127.0.0.1:${addr.port}`;
  return proxy;
}
