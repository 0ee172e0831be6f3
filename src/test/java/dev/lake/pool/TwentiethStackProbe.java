package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import dev.lake.testing.StackLadder;
import dev.lake.testing.StackLadder.Scenario;

import java.lang.reflect.Field;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The stack-overflow ladder (dev.lake.testing.StackLadder) over the pool arenas' release and claim paths, in an
 * interpreted child JVM: each attempt works on its own arena, checked afterwards at a normal depth, after the retry a
 * program that caught the error would make.
 */
final class TwentiethStackProbe
{
    private static final int SLOTS = StackLadder.SLOTS;
    private static final int VARIANTS = 24;

    private TwentiethStackProbe()
    {
    }

    public static void main(final String[] args)
    {
        StackLadder.probe(args[0], TwentiethStackProbe::scenario, VARIANTS);
    }

    private static Scenario scenario(final String name)
    {
        return switch (name)
        {
            case "buddy-release" -> new BuddyRelease();
            case "buddy-allocate" -> new BuddyAllocate();
            case "fixed-release" -> new FixedRelease();
            case "fixed-release-waiter" -> new FixedReleaseToAWaiter();
            case "fixed-wait" -> new FixedWait();
            case "fixed-spill" -> new FixedSpill();
            case "fixed-close-waiter" -> new CloseWithAWaiter();
            case "fixed-allocate-object" -> new FixedAllocateObject();
            case "fixed-close" -> new Close(false);
            case "buddy-close" -> new Close(true);
            default -> throw new IllegalArgumentException(name);
        };
    }

    static final StackOverflowError[] CUT = new StackOverflowError[SLOTS];

    static void cutAt(final int slot, final Runnable call)
    {
        CUT[slot] = null;
        try
        {
            call.run();
        }
        catch (final StackOverflowError e)
        {
            CUT[slot] = e; // a store only: at the edge of the stack nothing else fits
            throw e;
        }
    }

    /** The innermost frames of where slot's attempt was cut short. */
    static String where(final int slot)
    {
        final StackOverflowError e = CUT[slot];
        if (e == null)
        {
            return "";
        }
        final StringBuilder b = new StringBuilder(" [cut at");
        final StackTraceElement[] t = e.getStackTrace();
        for (int i = 0; i < Math.min(12, t.length); i++)
        {
            b.append(' ').append(t[i].getClassName().replaceAll(".*\\.", "")).append('.').append(t[i].getMethodName())
                .append(':').append(t[i].getLineNumber());
        }
        return b.append(']').toString();
    }

    private static boolean shownHang;

    /**
     * Once per probe: whether a call that takes the lock, on another thread, is still spinning after 2 s (a daemon
     * thread, left to spin until the child JVM exits).
     */
    static String hang(final BuddyArena arena)
    {
        if (shownHang)
        {
            return "";
        }
        shownHang = true;
        final Thread t = new Thread(arena::metrics, "metrics-after-the-cut");
        t.setDaemon(true);
        t.start();
        try
        {
            t.join(2_000);
        }
        catch (final InterruptedException ex)
        {
            throw new IllegalStateException(ex);
        }
        return t.isAlive() ? " (metrics() on another thread still spinning after 2 s)" : " (metrics() returned)";
    }

    static boolean lockHeld(final BuddyArena arena)
    {
        try
        {
            final Field f = BuddyArena.class.getDeclaredField("lock");
            f.setAccessible(true);
            final Field pad = BuddyArena.class.getDeclaredField("PAD");
            pad.setAccessible(true);
            return ((int[])f.get(arena))[pad.getInt(null)] != 0;
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    static int wip(final SlotArena arena)
    {
        try
        {
            final Field f = WaitQueue.class.getDeclaredField("wip");
            f.setAccessible(true);
            return ((AtomicInteger)f.get(arena.waits)).get();
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    /** A scenario over one arena per slot, each closed by {@link #closeAll()}. */
    abstract static class OnArenas<A extends SlotArena> implements Scenario
    {
        final A[] arenas;

        OnArenas(final A[] arenas)
        {
            this.arenas = arenas;
        }

        @Override
        public void closeAll()
        {
            for (final A arena : arenas)
            {
                if (arena != null)
                {
                    arena.close();
                }
            }
        }
    }

    /** A buddy arena's last release of a handle (no cache: it takes the lock and coalesces). */
    static final class BuddyRelease extends OnArenas<BuddyArena>
    {
        final long[] handles = new long[SLOTS];

        BuddyRelease()
        {
            super(new BuddyArena[SLOTS]);
        }

        @Override
        public void build(final int slot)
        {
            arenas[slot] = BuddyArena.builder(1024, 64).freeBlockCache(false).leakDetection(false).build();
            handles[slot] = arenas[slot].allocateHandle(64);
        }

        @Override
        public void attempt(final int slot)
        {
            TwentiethStackProbe.cutAt(slot, () -> arenas[slot].release(handles[slot]));
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final BuddyArena arena = arenas[slot];
            if (lockHeld(arena))
            {
                arenas[slot] = null; // every later call that takes the lock would spin for ever
                return "the buddy lock was left held: every later allocation, coalescing release, metrics() and close() spins for ever" + hang(arena) + where(slot);
            }
            if (wasCut)
            {
                try
                {
                    arena.release(handles[slot]);
                }
                catch (final StaleHandleException retried)
                {
                    // the first release got through its CAS
                }
            }
            final BuddyArenaMetrics m = arena.metrics();
            if (!m.fullyCoalesced() || m.liveBlocks() != 0)
            {
                return "after the release (and its retry) the arena is not whole: " + m;
            }
            return null;
        }

    }

    /** A buddy arena's claim that must split (no cache: under the lock). */
    static final class BuddyAllocate extends OnArenas<BuddyArena>
    {
        final long[] handles = new long[SLOTS];

        BuddyAllocate()
        {
            super(new BuddyArena[SLOTS]);
        }

        @Override
        public void build(final int slot)
        {
            arenas[slot] = BuddyArena.builder(1024, 64).build(); // the defaults: cache on, leak detection on
        }

        @Override
        public void attempt(final int slot)
        {
            TwentiethStackProbe.cutAt(slot, () -> handles[slot] = arenas[slot].tryAllocateHandle(64));
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final BuddyArena arena = arenas[slot];
            if (lockHeld(arena))
            {
                arenas[slot] = null;
                return "the buddy lock was left held: every later allocation, coalescing release, metrics() and close() spins for ever" + hang(arena) + where(slot);
            }
            if (handles[slot] != 0)
            {
                arena.release(handles[slot]);
            }
            final BuddyArenaMetrics m = arena.metrics();
            if (!m.fullyCoalesced() || m.liveBlocks() != 0)
            {
                return "an allocation cut short kept a block nobody holds: " + m;
            }
            return null;
        }

    }

    /** A fixed arena's last release of a handle that cannot park (ZERO). */
    static final class FixedRelease extends OnArenas<FixedArena>
    {
        final long[] handles = new long[SLOTS];

        FixedRelease()
        {
            super(new FixedArena[SLOTS]);
        }

        @Override
        public void build(final int slot)
        {
            arenas[slot] = FixedArena.builder(1, 64).initPolicy(InitPolicy.ZERO).leakDetection(false).build();
            handles[slot] = arenas[slot].allocateHandle();
        }

        @Override
        public void attempt(final int slot)
        {
            TwentiethStackProbe.cutAt(slot, () -> arenas[slot].release(handles[slot]));
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final FixedArena arena = arenas[slot];
            if (wasCut)
            {
                try
                {
                    arena.release(handles[slot]);
                }
                catch (final StaleHandleException retried)
                {
                    // the first release got through its CAS
                }
            }
            final FixedArenaMetrics m = arena.metrics();
            if (m.liveSlots() != 0 || m.allocations() != m.frees())
            {
                return "after the release (and its retry) a slot stays taken by nobody: " + m + where(slot);
            }
            return null;
        }

    }

    /** A fixed arena's release that serves a waiting request (the dispatcher runs on the releasing thread). */
    static final class FixedReleaseToAWaiter extends OnArenas<FixedArena>
    {
        final long[] handles = new long[SLOTS];
        @SuppressWarnings("unchecked")
        final CompletableFuture<Buffer>[] waiting = new CompletableFuture[SLOTS];

        FixedReleaseToAWaiter()
        {
            super(new FixedArena[SLOTS]);
        }

        @Override
        public void build(final int slot)
        {
            arenas[slot] = FixedArena.builder(1, 64).leakDetection(false).build();
            handles[slot] = arenas[slot].allocateHandle();
            waiting[slot] = arenas[slot].allocateAsync();
        }

        @Override
        public void attempt(final int slot)
        {
            TwentiethStackProbe.cutAt(slot, () -> arenas[slot].release(handles[slot]));
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final FixedArena arena = arenas[slot];
            if (wip(arena) != 0)
            {
                arenas[slot] = null; // close() would wait for that pass for ever
                return "the wait queue's dispatcher is left wedged (wip " + wip(arena) + "): no request is served " +
                    "again and the first close() spins for ever; waiting " + waiting[slot];
            }
            if (wasCut)
            {
                try
                {
                    arena.release(handles[slot]);
                }
                catch (final StaleHandleException retried)
                {
                    // the first release got through its CAS
                }
            }
            arena.allocateAsync().cancel(false); // any signal: a request, a cancel
            if (!waiting[slot].isDone())
            {
                return "the waiting request was not served after the release (and a retry, and a new request): " +
                    waiting[slot] + " " + arena.metrics();
            }
            final Buffer got = waiting[slot].getNow(null);
            if (got != null)
            {
                got.close();
            }
            final FixedArenaMetrics m = arena.metrics();
            if (m.liveSlots() != 0)
            {
                return "a slot stays taken by nobody: " + m + where(slot);
            }
            return null;
        }

    }

    /** A timed wait on a full fixed arena (it times out when not cut short). */
    static final class FixedWait extends OnArenas<FixedArena>
    {
        final long[] handles = new long[SLOTS];

        FixedWait()
        {
            super(new FixedArena[SLOTS]);
        }

        @Override
        public void build(final int slot)
        {
            arenas[slot] = FixedArena.builder(1, 64).build();
            handles[slot] = arenas[slot].allocateHandle();
        }

        @Override
        public void attempt(final int slot)
        {
            cutAt(slot, () ->
            {
                try
                {
                    arenas[slot].allocate(64, java.time.Duration.ofNanos(1)).close();
                }
                catch (final AllocationTimeoutException expected)
                {
                    // the arena is full
                }
                catch (final InterruptedException ex)
                {
                    throw new IllegalStateException(ex);
                }
            });
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final FixedArena arena = arenas[slot];
            final int waiters = arena.waiters();
            arena.release(handles[slot]);
            final Buffer b = arena.tryAllocate();
            if (b == null || waiters != 0)
            {
                return "a wait cut short left a request nobody holds (waiters " + waiters + " after the call; " +
                    "tryAllocate on the emptied arena: " + b + ") " + arena.metrics() + where(slot);
            }
            b.close();
            return null;
        }

    }

    /** close() of an arena with nothing live but a parked slot (fixed) or a cached block (buddy). */
    static final class Close extends OnArenas<SlotArena>
    {
        final boolean buddy;

        Close(final boolean buddy)
        {
            super(new SlotArena[SLOTS]);
            this.buddy = buddy;
        }

        @Override
        public void build(final int slot)
        {
            if (buddy)
            {
                final BuddyArena a = BuddyArena.builder(1024, 64).build();
                a.release(a.allocateHandle(64)); // parked in the cache
                arenas[slot] = a;
            }
            else
            {
                final FixedArena a = FixedArena.builder(4, 64).build();
                a.release(a.allocateHandle()); // parked in its word
                arenas[slot] = a;
            }
        }

        @Override
        public void attempt(final int slot)
        {
            cutAt(slot, () -> arenas[slot].close());
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final SlotArena arena = arenas[slot];
            if (arena instanceof BuddyArena b && lockHeld(b))
            {
                arenas[slot] = null;
                return "close() cut short left the buddy lock held" + where(slot);
            }
            if (wasCut)
            {
                arena.close(); // the retry: "a later close() ... tries it again"
            }
            if (!arena.isRegionFreed())
            {
                return "close() (and its retry) left the region of an arena with nothing live held" + where(slot);
            }
            return null;
        }

    }

    /** A write that spills a buffer of a fixed arena (auto-spill, no leak detection) to the heap. */
    static final class FixedSpill extends OnArenas<FixedArena>
    {
        final Buffer[] buffers = new Buffer[SLOTS];

        FixedSpill()
        {
            super(new FixedArena[SLOTS]);
        }

        @Override
        public void build(final int slot)
        {
            arenas[slot] = FixedArena.builder(1, 64).autoSpill(true).leakDetection(false).build();
            buffers[slot] = arenas[slot].allocate();
            buffers[slot].putBytes(new byte[60]);
        }

        @Override
        public void attempt(final int slot)
        {
            cutAt(slot, () -> buffers[slot].putBytes(new byte[16]));
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final FixedArena arena = arenas[slot];
            final Buffer buf = buffers[slot];
            if (wasCut && buf.length() == 60)
            {
                buf.putBytes(new byte[16]); // the retry of the write
            }
            final Bytes bytes = buf.freeze();
            final int length = bytes.length();
            bytes.release();
            final FixedArenaMetrics m = arena.metrics();
            if (m.liveSlots() != 0 || length != 76)
            {
                return "after the spilling write (and its retry), the freeze and the release, the slot is still taken " +
                    "(length " + length + ", spilled " + buf.isSpilled() + "): " + m + where(slot);
            }
            return null;
        }

    }

    /** An object-tier allocation of a fixed arena (leak detection off). */
    static final class FixedAllocateObject extends OnArenas<FixedArena>
    {
        final Buffer[] buffers = new Buffer[SLOTS];

        FixedAllocateObject()
        {
            super(new FixedArena[SLOTS]);
        }

        @Override
        public void build(final int slot)
        {
            arenas[slot] = FixedArena.builder(1, 64).leakDetection(false).build();
        }

        @Override
        public void attempt(final int slot)
        {
            cutAt(slot, () -> buffers[slot] = arenas[slot].tryAllocate());
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final FixedArena arena = arenas[slot];
            if (buffers[slot] != null)
            {
                buffers[slot].close();
            }
            final FixedArenaMetrics m = arena.metrics();
            if (m.liveSlots() != 0)
            {
                return "an allocation cut short kept a slot nobody holds: " + m + where(slot);
            }
            return null;
        }

    }

    /** close() of a full fixed arena with a request waiting. */
    static final class CloseWithAWaiter extends OnArenas<FixedArena>
    {
        final long[] handles = new long[SLOTS];
        @SuppressWarnings("unchecked")
        final CompletableFuture<Buffer>[] waiting = new CompletableFuture[SLOTS];

        CloseWithAWaiter()
        {
            super(new FixedArena[SLOTS]);
        }

        @Override
        public void build(final int slot)
        {
            arenas[slot] = FixedArena.builder(1, 64).build();
            handles[slot] = arenas[slot].allocateHandle();
            waiting[slot] = arenas[slot].allocateAsync();
        }

        @Override
        public void attempt(final int slot)
        {
            cutAt(slot, () -> arenas[slot].close());
        }

        @Override
        public String check(final int slot, final boolean wasCut)
        {
            final FixedArena arena = arenas[slot];
            if (wip(arena) != 0)
            {
                arenas[slot] = null;
                return "the dispatcher is left wedged (wip " + wip(arena) + ")" + where(slot);
            }
            if (wasCut)
            {
                arena.close();
            }
            if (!waiting[slot].isDone() || arena.waiters() != 0)
            {
                return "close() (and its retry) left a request waiting: " + waiting[slot] + where(slot);
            }
            arena.release(handles[slot]);
            if (!arena.isRegionFreed())
            {
                return "the last release after close() did not free the region" + where(slot);
            }
            return null;
        }

    }
}
