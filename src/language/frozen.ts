/** A Map that refuses mutation once constructed, so compiled models can be shared safely. */
export class FrozenMap<K, V> extends Map<K, V> {
  private sealed = false;

  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [k, v] of entries) super.set(k, v);
    this.sealed = true;
    Object.freeze(this);
  }

  override set(key: K, value: V): this {
    if (this.sealed) throw new TypeError('a compiled schema map is immutable');
    return super.set(key, value);
  }

  override delete(_key: K): boolean {
    throw new TypeError('a compiled schema map is immutable');
  }

  override clear(): void {
    throw new TypeError('a compiled schema map is immutable');
  }
}
