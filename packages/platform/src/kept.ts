/**
 * The last `size` answers of an async read, kept by key (least recently used first out). For reads
 * of data that never changes once read, e.g. a closed round's stream: paging through one round then
 * reads the store once. A failed read is not kept.
 */
export function keptReads<T>(size: number): { read(key: string, load: () => Promise<T>): Promise<T> } {
  const kept = new Map<string, Promise<T>>();
  return {
    read(key, load) {
      let r = kept.get(key);
      if (r) kept.delete(key);
      else {
        r = load();
        r.catch(() => kept.delete(key));
      }
      kept.set(key, r);
      if (kept.size > size) kept.delete(kept.keys().next().value!);
      return r;
    },
  };
}
