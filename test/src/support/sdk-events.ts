import { waitFor } from './wait';

type Listener = (...args: never[]) => void;
type Subscribe<Events> = <K extends keyof Events>(event: K, listener: Events[K]) => () => void;

/**
 * Records what an SDK client emits through its public `on`, in order, so a test can wait for an
 * event (already seen or still to come) and check what did or did not happen.
 */
export class SdkEvents<Events extends { [K in keyof Events]: Listener }> {
  readonly events: { name: keyof Events; payload: unknown }[] = [];
  private readonly unsubscribes: (() => void)[] = [];

  constructor(on: Subscribe<Events>, names: (keyof Events)[]) {
    for (const name of names) {
      const listener = ((payload: unknown) => this.events.push({ name, payload })) as unknown as Events[typeof name];
      this.unsubscribes.push(on(name, listener));
    }
  }

  of<K extends keyof Events>(name: K): Parameters<Events[K]>[0][] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload as Parameters<Events[K]>[0]);
  }

  /** The first matching event already recorded, or the next one to arrive. */
  wait<K extends keyof Events>(
    name: K,
    predicate: (payload: Parameters<Events[K]>[0]) => boolean = () => true,
    timeoutMs = 20_000,
  ): Promise<Parameters<Events[K]>[0]> {
    return waitFor(`a ${String(name)} event`, () => this.of(name).find(predicate), {
      timeoutMs,
      describe: () => `recorded ${this.events.map((e) => String(e.name)).join(', ') || 'nothing'}`,
    });
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
  }
}
