// The membership REST API (DESIGN.md "Rooms with members", docs/REST.md): create rooms, change
// the topic, archive, invite, join, leave, kick, ban, mute, change roles; "my rooms", a room's
// members and the public directory. Every change goes through RoomChanges (member.lua decides,
// atomically with the events it appends); reads come from the store. Every route needs a bearer
// token and is charged to the caller's request budget (`auth`).
import { Router, type RequestHandler } from 'express';
import type { MemberOp } from '../shared/member-script.js';
import { GROUP_MAX_MEMBERS } from '../shared/membership.js';
import type { ChatUser } from '../shared/message.js';
import { newMembersOnlyRoom, roomKindOf } from '../shared/rooms.js';
import type { Store } from '../shared/store/store.js';
import type { UserPresence } from '../shared/user-status.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { assertReadable, NO_SUCH_ROOM, userRef, type RoomChanges } from './room-changes.js';
import { createRoomBody, directoryQuery, invitees as inviteesOf, muteBody, roleBody, roomPatchBody, userIdBody } from './schemas/membership.js';
import { roomName, userId } from './schemas/rooms.js';
import { parse, parseBody } from './validation.js';

/** "My rooms" and the directory are bounded lists. */
export const MY_ROOMS_LIMIT = 500;
const DIRECTORY_LIMIT = 50;
const MEMBERS_LIMIT = 1000;
const userIdParam = userId();

export interface MembershipRouterOptions {
  auth: RequestHandler;
  /** Online / away / dnd / offline and last seen (shared/user-status.ts), for member lists and peers. */
  presence: (userIds: Iterable<string>) => Promise<Map<string, UserPresence>>;
}

export function membershipRouter(store: Store, changes: RoomChanges, { auth, presence }: MembershipRouterOptions): Router {
  const router = Router();
  const me = (res: Parameters<RequestHandler>[1]): ChatUser => authedUser(res);
  /** Adds each person's presence (status, lastSeen) to a list of them. */
  const withPresence = async <T extends { id: string }>(people: T[]): Promise<(T & UserPresence)[]> => {
    const p = await presence(people.map((x) => x.id));
    return people.map((x) => ({ ...x, ...(p.get(x.id) ?? { status: 'offline' as const }) }));
  };

  /** The room's state as the caller may see it (404 for a members-only room they are not in). */
  const roomView = async (room: string, viewer: string) => {
    await assertReadable(store, room, viewer);
    const meta = await store.roomMeta(room);
    if (!meta) throw new ApiError('not_found', NO_SUCH_ROOM);
    const state = await store.memberState(room, viewer);
    return { ...meta, ...(state.role ? { role: state.role } : {}), ...(state.mutedUntil ? { mutedUntil: state.mutedUntil } : {}) };
  };

  router
    .route('/api/rooms')
    .post(auth, async (req, res) => {
      const actor = me(res);
      const input = parseBody(req, createRoomBody);
      // Invitees must exist before anything is created: a typo fails the whole request.
      const invitees = await Promise.all(inviteesOf(input, actor.id).map((id) => userRef(store, id)));
      const room = input.kind === 'public' ? input.name : newMembersOnlyRoom(input.kind);
      if (input.kind === 'public' && (await store.roomMeta(room))) throw new ApiError('conflict', 'a room with this name exists: join it instead');
      const create: MemberOp =
        input.kind === 'private'
          ? { op: 'create', title: input.title, topic: input.topic }
          : input.kind === 'public'
            ? { op: 'create', topic: input.topic }
            : { op: 'create' };
      await changes.run(room, actor, create);
      for (const target of invitees) await changes.run(room, actor, { op: 'invite', target });
      res.status(201).json({ room: await roomView(room, actor.id) });
    });
  // (GET /api/rooms and the 405 for other methods: rooms-routes.ts, mounted after this router.)

  router
    .route('/api/me/rooms')
    .get(auth, async (_req, res) => {
      const rooms = await store.myRooms(me(res).id, MY_ROOMS_LIMIT);
      // DM and group peers carry their presence (one pipelined read for all of them).
      const peers = await presence(rooms.flatMap((r) => (r.peers ?? []).map((p) => p.id)));
      for (const r of rooms) if (r.peers) r.peers = r.peers.map((p) => ({ ...p, ...(peers.get(p.id) ?? { status: 'offline' as const }) }));
      res.json({ rooms });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/directory')
    .get(auth, async (req, res) => {
      res.json({ rooms: await store.publicRooms(parse(directoryQuery, req.query).q, DIRECTORY_LIMIT) });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/rooms/:room')
    .get(auth, async (req, res) => {
      res.json({ room: await roomView(parse(roomName, req.params.room), me(res).id) });
    })
    .patch(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const patch = parseBody(req, roomPatchBody);
      const op: MemberOp = 'topic' in patch ? { op: 'topic', topic: patch.topic } : { op: patch.archived ? 'archive' : 'unarchive' };
      const { changed } = await changes.run(room, me(res), op);
      res.json({ changed, room: await roomView(room, me(res).id) });
    })
    .all(methodNotAllowed(['GET', 'HEAD', 'PATCH']));

  router
    .route('/api/rooms/:room/members')
    .get(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      await assertReadable(store, room, me(res).id);
      res.json({ members: await withPresence(await store.roomMembers(room, roomKindOf(room) === 'group' ? GROUP_MAX_MEMBERS : MEMBERS_LIMIT)) });
    })
    // Invite someone; your own id joins a public room (as a ws `join` does).
    .post(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const actor = me(res);
      const { userId } = parseBody(req, userIdBody);
      const op: MemberOp = userId === actor.id ? { op: 'join' } : { op: 'invite', target: await userRef(store, userId) };
      const { changed } = await changes.run(room, actor, op);
      res.status(changed ? 201 : 200).json({ changed });
    })
    .all(methodNotAllowed(['GET', 'HEAD', 'POST']));

  router
    .route('/api/rooms/:room/members/:userId')
    // Your own id leaves; another's kicks.
    .delete(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const actor = me(res);
      const memberId = parse(userIdParam, req.params.userId);
      const op: MemberOp = memberId === actor.id ? { op: 'leave' } : { op: 'kick', target: await userRef(store, memberId) };
      res.json(await changes.run(room, actor, op).then(({ changed }) => ({ changed })));
    })
    .patch(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const { role } = parseBody(req, roleBody);
      const target = await userRef(store, parse(userIdParam, req.params.userId));
      res.json(await changes.run(room, me(res), { op: 'role', target, role }).then(({ changed }) => ({ changed })));
    })
    .all(methodNotAllowed(['DELETE', 'PATCH']));

  router
    .route('/api/rooms/:room/bans')
    .post(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const target = await userRef(store, parseBody(req, userIdBody).userId);
      res.json(await changes.run(room, me(res), { op: 'ban', target }).then(({ changed }) => ({ changed })));
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/api/rooms/:room/bans/:userId')
    .delete(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const target = await userRef(store, parse(userIdParam, req.params.userId));
      res.json(await changes.run(room, me(res), { op: 'unban', target }).then(({ changed }) => ({ changed })));
    })
    .all(methodNotAllowed(['DELETE']));

  router
    .route('/api/rooms/:room/mutes')
    .post(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const { userId, seconds } = parseBody(req, muteBody);
      const target = await userRef(store, userId);
      res.json(await changes.run(room, me(res), { op: 'mute', target, seconds }).then(({ changed }) => ({ changed })));
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/api/rooms/:room/mutes/:userId')
    .delete(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const target = await userRef(store, parse(userIdParam, req.params.userId));
      res.json(await changes.run(room, me(res), { op: 'unmute', target }).then(({ changed }) => ({ changed })));
    })
    .all(methodNotAllowed(['DELETE']));

  return router;
}
