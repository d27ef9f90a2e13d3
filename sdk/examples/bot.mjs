// A bot in 30 lines: answers "!ping" with "pong" and "!time" with the server's clock, in every
// room it is told to join. Run it against a running AuroraChat (`./run.sh`):
//   AURORA_URL=http://localhost:4000 AURORA_USER=pingbot AURORA_PASSWORD="$BOT_PASSWORD" \
//   AURORA_ROOMS=general node sdk/examples/bot.mjs
import { WebSocket } from 'ws'; // Node 22+ has a global WebSocket: then leave this out
import { createClient } from '../src/index.js'; // from a package: '@aurorachat/client'

const { AURORA_URL = 'http://localhost:4000', AURORA_USER, AURORA_PASSWORD, AURORA_ROOMS = 'general' } = process.env;
const client = createClient({ base: AURORA_URL, WebSocket });

// First run: create the account (409 when it exists already).
await client.register(AURORA_USER, AURORA_PASSWORD).catch((err) => {
  if (err.status !== 409) throw err;
});
await client.login(AURORA_USER, AURORA_PASSWORD);

client.on('message', async (m) => {
  if (m.user.id === client.user.id) return; // never answer ourselves
  const command = m.text.trim();
  const reply = command === '!ping' ? 'pong' : command === '!time' ? new Date(m.ts).toISOString() : null;
  if (reply) await client.send(m.room, reply);
});
client.on('state', (s) => console.log(`connection: ${s.state}${s.replica ? ` (${s.replica})` : ''}`));
client.on('signedout', () => process.exit(1));

for (const room of AURORA_ROOMS.split(',')) await client.join(room);
console.log(`${AURORA_USER} is listening in ${AURORA_ROOMS}`);
process.on('SIGTERM', () => {
  client.close();
  process.exit(0);
});
