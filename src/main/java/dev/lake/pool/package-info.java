/**
 * Shared, thread-safe allocation (the arena-alligator seed): {@link dev.lake.pool.FixedArena}, a lock-free
 * arena of uniform slots, and {@link dev.lake.pool.BuddyArena}, variable sizes from power-of-two blocks that
 * split and coalesce; both hand out {@link dev.lake.pool.Buffer}s that freeze into immutable, reference-counted
 * {@link dev.lake.pool.Bytes} giving their capacity back on the last release; auto-spill to the heap;
 * a zero-garbage {@code long}-handle tier; waiting for capacity ({@code allocateAsync},
 * {@code allocate(size, timeout)}); metrics snapshots and JFR events. See {@code docs/pool.md}.
 */
package dev.lake.pool;
