// POST /api/rooms/:room/assistant/stop {"id"}: the asker's stop button for the assistant's answer
// in progress (services/assistant/stops.ts). Only the user who asked may stop it: the assistant
// keeps the asker of each answer in progress (keys.assistantAnswer); anyone else, an answer that
// already ended, or none by that id get the same 404.
import { Router, type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { stopMessage } from '../assistant/stops.js';
import type { Keys } from '../shared/keys.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { assistantStopBody } from './schemas/files.js';
import { roomName } from './schemas/rooms.js';
import { parse, parseBody } from './validation.js';

export function assistantRouter(deps: { auth: RequestHandler; redis: Redis; keys: Keys }): Router {
  const { auth, redis, keys } = deps;
  const router = Router();
  router
    .route('/api/rooms/:room/assistant/stop')
    .post(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const { id } = parseBody(req, assistantStopBody);
      const asker = await redis.get(keys.assistantAnswer(room, id));
      if (asker !== authedUser(res).id) throw new ApiError('not_found', 'no answer of yours is in progress with that id');
      await redis.publish(keys.assistantStops(), stopMessage(room, id));
      res.status(202).json({ stopping: true });
    })
    .all(methodNotAllowed(['POST']));
  return router;
}
