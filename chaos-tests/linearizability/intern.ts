import type { Model } from './interface.js';

/**
 * Gives every distinct model state a small integer id, so the memo compares
 * states as integers instead of calling back into the model.
 *
 * Without `model.equal`, the hash string is the identity of a state (the
 * Model contract). With it, states sharing a hash string are told apart by
 * `equal`, which is the "full equality check on collision".
 */
export class StateInterner<S> {
  private readonly byHash = new Map<string, number>();
  /** Only used when the model has `equal`: every id that shares a hash string. */
  private readonly collisions = new Map<string, number[]>();
  private readonly states: S[] = [];

  constructor(private readonly model: Pick<Model<S, unknown, unknown>, 'hash' | 'equal'>) {}

  get size(): number {
    return this.states.length;
  }

  state(id: number): S {
    return this.states[id];
  }

  id(state: S): number {
    const key = this.model.hash(state);
    const equal = this.model.equal;
    if (!equal) {
      let id = this.byHash.get(key);
      if (id === undefined) {
        id = this.states.length;
        this.states.push(state);
        this.byHash.set(key, id);
      }
      return id;
    }
    let ids = this.collisions.get(key);
    if (!ids) {
      ids = [];
      this.collisions.set(key, ids);
    }
    for (const id of ids) if (equal.call(this.model, this.states[id], state)) return id;
    const id = this.states.length;
    this.states.push(state);
    ids.push(id);
    return id;
  }
}
