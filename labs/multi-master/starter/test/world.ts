/**
 * Three regions on the lab's three Redis servers, and a channel between them that the
 * tests drive by hand: every message a region sends waits in `inFlight` until a test
 * delivers it (in any order, twice, or never), as the grader's channel does.
 */
import { createRegion } from '../src/regions';
import type { Message, Region } from '../src/types';
import { SERVER_URLS, openStore } from './stores';

export const IDS = ['eu', 'us', 'ap'] as const;
export type Id = (typeof IDS)[number];

export interface Sent {
  readonly from: Id;
  readonly to: Id;
  readonly message: Message;
}

export interface World {
  readonly regions: Record<Id, Region>;
  /** Messages sent and not yet delivered, in the order they were sent. */
  readonly inFlight: Sent[];
  /** Every message ever sent. */
  readonly sent: readonly Sent[];
  /** Delivers (and takes from inFlight) the messages that match, in the order given. */
  deliver(match?: (m: Sent) => boolean, order?: 'sent' | 'reversed'): Promise<number>;
  /** Delivers until nothing is in flight (deliveries may send more). */
  deliverAll(): Promise<void>;
  /** Makes region `id` again with createRegion on its store: what it kept in memory is gone. */
  restart(id: Id): void;
  /** Sets a region's clock (a fixed instant); undefined puts it back on Date.now(). */
  setClock(id: Id, ms: number | undefined): void;
  close(): Promise<void>;
}

/** The three regions on empty stores (database 1 of each server is emptied first). */
export async function makeWorld(): Promise<World> {
  const stores = SERVER_URLS.map((url) => openStore(url));
  await Promise.all(stores.map((s) => s.command('FLUSHDB')));
  const inFlight: Sent[] = [];
  const sent: Sent[] = [];
  const clocks: Partial<Record<Id, number>> = {};
  const regions = {} as Record<Id, Region>;
  const make = (id: Id): void => {
    regions[id] = createRegion({
      id,
      peers: IDS.filter((p) => p !== id),
      store: stores[IDS.indexOf(id)] as (typeof stores)[number],
      clock: { now: () => clocks[id] ?? Date.now() },
      send(to, message) {
        const copy: Sent = { from: id, to: to as Id, message: JSON.parse(JSON.stringify(message)) as Message };
        inFlight.push(copy);
        sent.push(copy);
      },
    });
  };
  for (const id of IDS) make(id);
  const world: World = {
    regions,
    inFlight,
    sent,
    async deliver(match = () => true, order = 'sent') {
      const chosen = inFlight.filter(match);
      for (const m of chosen) inFlight.splice(inFlight.indexOf(m), 1);
      for (const m of order === 'reversed' ? [...chosen].reverse() : chosen) await regions[m.to].receive(m.from, m.message);
      return chosen.length;
    },
    async deliverAll() {
      while (inFlight.length > 0) await world.deliver();
    },
    restart: (id) => make(id),
    setClock(id, ms) {
      if (ms === undefined) delete clocks[id];
      else clocks[id] = ms;
    },
    async close() {
      for (const s of stores) s.close();
    },
  };
  return world;
}

/** What every region holds for `read`, in the order eu, us, ap. */
export async function everywhere<T>(world: World, read: (r: Region) => Promise<T>): Promise<T[]> {
  return Promise.all(IDS.map((id) => read(world.regions[id])));
}
