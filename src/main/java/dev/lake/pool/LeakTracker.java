package dev.lake.pool;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;

/**
 * The leak safety net for one allocation of the object tier: a phantom reference to its {@link Buffer} (which
 * every {@link Bytes} frozen from it references). Held strongly by the slot table while the slot is in use and
 * dropped on the last release, so it is only ever enqueued when every handle of the allocation became
 * unreachable without being released. Allocation is one small object and no lock (unlike
 * {@link java.lang.ref.Cleaner#register}, which takes a lock shared by all its users).
 */
final class LeakTracker extends PhantomReference<Object>
{
    final int slot;
    final long generation;
    final Throwable site;

    LeakTracker(final Object referent, final ReferenceQueue<Object> queue, final int slot, final long generation,
        final Throwable site)
    {
        super(referent, queue);
        this.slot = slot;
        this.generation = generation;
        this.site = site;
    }
}
