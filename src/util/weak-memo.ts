/**
 * `compute`, remembered per argument object for as long as that object
 * lives: for values derived from objects that are replaced, never mutated,
 * when they change (the store's specs, gossip's metadata), so a remembered
 * value cannot go stale and a dropped object takes its value with it.
 */
export function weakMemo<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  const memo = new WeakMap<K, V>();
  return (key) => {
    if (memo.has(key)) return memo.get(key)!;
    const v = compute(key);
    memo.set(key, v);
    return v;
  };
}
