// Names whose keys land on EVERY master of a test cluster, for the cross-slot audit: a command
// over keys of one slot (one master) proves little, so each audit check takes one room (or user,
// or partition) per master. Slots are asked of Redis (CLUSTER KEYSLOT), never guessed.
import { keysFor, partitionOf } from '../../services/shared/keys.js';
import type { ClusterNode, TestRedisCluster } from '../helpers/redis-cluster.js';

/** ≥ 4 × masters, the guidance issue 18 asks README to give: every master holds some partitions. */
export const PARTITIONS = 12;
export const keys = keysFor(PARTITIONS);

export interface Spread {
  masters: ClusterNode[];
  /** Partition → index in `masters` of the master serving it. */
  masterOfPartition: number[];
  /** One partition per master, masters' order. */
  partitionPerMaster: number[];
  /** One public room per master. */
  publicRooms: string[];
  /** One private (`p:`) room per master. */
  privateRooms: string[];
  /** One room per master out of `candidate(0), candidate(1), …`. */
  roomsFor(candidate: (i: number) => string): Promise<string[]>;
  /** One name per master for which `key(name)` (an untagged key: user status, session…) lands there. */
  namesFor(key: (name: string) => string, prefix: string): Promise<string[]>;
}

export async function spreadOverMasters(cluster: TestRedisCluster): Promise<Spread> {
  const masters = await cluster.masters();
  const indexOfMaster = async (key: string): Promise<number> => {
    const owner = await cluster.masterOfSlot(await cluster.slotOf(key));
    const i = masters.findIndex((m) => m.port === owner.port);
    if (i < 0) throw new Error(`${key} is served by ${owner.port}, not a master`);
    return i;
  };
  const masterOfPartition: number[] = [];
  for (let p = 0; p < PARTITIONS; p++) masterOfPartition.push(await indexOfMaster(keys.ingestStream(p)));
  const partitionPerMaster = masters.map((_, i) => masterOfPartition.indexOf(i));
  if (partitionPerMaster.includes(-1)) throw new Error(`a master serves none of ${PARTITIONS} partitions: ${masterOfPartition.join(',')}`);

  /** One name per master out of `candidate(0), candidate(1), …`, placed by `masterOf`. */
  const pick = async (candidate: (i: number) => string, masterOf: (name: string) => Promise<number>): Promise<string[]> => {
    const out: (string | undefined)[] = masters.map(() => undefined);
    for (let i = 0; i < 500 && out.includes(undefined); i++) {
      const name = candidate(i);
      const m = await masterOf(name);
      out[m] ??= name;
    }
    if (out.includes(undefined)) throw new Error(`no ${candidate(0)}-like name for every master`);
    return out as string[];
  };
  const roomMaster = async (room: string) => masterOfPartition[partitionOf(room, PARTITIONS)]!;
  return {
    masters,
    masterOfPartition,
    partitionPerMaster,
    publicRooms: await pick((i) => `audit-${i}`, roomMaster),
    // p: + 16 characters of [A-Za-z0-9_-] (rooms.ts)
    privateRooms: await pick((i) => `p:auditroom${String(i).padStart(7, '0')}`, roomMaster),
    roomsFor: (candidate) => pick(candidate, roomMaster),
    namesFor: (key, prefix) => pick((i) => `${prefix}${i}`, (name) => indexOfMaster(key(name))),
  };
}

/**
 * The body of an `it.fails` for a known cluster break: throws (the known break, so it.fails
 * passes) only when `op` fails with `reason`. When `op` succeeds — someone fixed it — or fails
 * for another reason, it returns, and it.fails turns the test red: fix the test or its name.
 */
export async function knownBreak(reason: RegExp, op: () => Promise<unknown>): Promise<void> {
  const err = await op().then(
    () => null,
    (e: unknown) => e,
  );
  if (err instanceof Error && reason.test(err.message)) throw err;
  // a red it.fails says only "expected to fail": say why
  console.error(err ? `failed for ANOTHER reason than ${reason}: ${String(err)}` : `no longer fails (${reason}): turn it.fails into it`);
}

/** ioredis' refusal of a pipeline/MULTI whose keys live on different masters. */
export const PIPELINE_SPANS_MASTERS = /All keys in the pipeline should belong to the same slots allocation group/;
/** Redis's refusal of one command (or MULTI) over keys of several slots. */
export const CROSSSLOT = /CROSSSLOT/;
