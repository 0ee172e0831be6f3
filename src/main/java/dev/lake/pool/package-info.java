/**
 * Shared, thread-safe allocation (the arena-alligator seed): {@link dev.lake.pool.FixedArena}, a lock-free
 * arena of uniform slots whose {@link dev.lake.pool.Buffer}s freeze into immutable, reference-counted
 * {@link dev.lake.pool.Bytes} that give their slot back on the last release; auto-spill to the heap;
 * a zero-garbage {@code long}-handle tier; metrics snapshots and JFR events. See {@code docs/pool.md}.
 */
package dev.lake.pool;
