package dev.lake.reliability;

import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.AllocationTimeoutException;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.BuddyArenaMetrics;
import dev.lake.pool.FixedArena;
import dev.lake.pool.FixedArenaMetrics;
import dev.lake.pool.InitPolicy;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceStats;
import dev.lake.thread.ThreadLakes;
import org.jctools.queues.atomic.MpmcAtomicArrayQueue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Soak: mixed workloads on every shared allocator from many threads for a configurable time, then exact checks.
 *
 * <pre>
 * scripts/soak.sh                 # 10 minutes
 * scripts/soak.sh --seconds 60    # any duration; --threads N (default max(8, 4 x cores)), --report S (default 10)
 * </pre>
 *
 * Workloads, all at once:
 * <ul>
 *   <li>FixedArena, object tier: allocate, write a stamp, freeze, retain or slice for another thread through a
 *   queue; the consumer checks the stamp and releases. The arena is small, so it is often full (counted).</li>
 *   <li>FixedArena, handle tier: the same with {@code long} handles, retain and release.</li>
 *   <li>SliceAllocator: one allocating thread (strict mode) cuts slices and primitive references and hands shares
 *   to the consumers; every slice holds a known sequence that the consumer checks.</li>
 *   <li>ThreadLakes: workers use their thread lake for scratch ({@code with}) and short-lived threads take a lake
 *   and die, half of them without {@code release()} (the reclaim path).</li>
 * </ul>
 * Every 10 s it prints throughput per workload. At the end it stops the threads, releases what the queues still
 * hold, closes everything and checks: data never corrupted, FixedArena metrics exactly equal to the operations
 * counted here (allocations, failed, frees, frozen, leaks 0, live 0), slice stats at zero with every slice
 * counted, every thread lake given back, native bytes back to the baseline and no leak reported. Any violation
 * makes it exit with status 1.
 */
public final class Soak
{
    private static final int SLOTS = 32; // small, so that producers also meet a full arena
    private static final int SLOT_CAPACITY = 128;

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<String> violations = new ArrayList<>();
    private final LongAdder objectOps = new LongAdder();
    private final LongAdder handleOps = new LongAdder();
    private final LongAdder sliceOps = new LongAdder();
    private final LongAdder lakeOps = new LongAdder();
    private final LongAdder churnedThreads = new LongAdder();
    private final LongAdder allocations = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder frozen = new LongAdder();
    private final LongAdder slicesCut = new LongAdder();
    private final AtomicLong corrupt = new AtomicLong();
    private final LongAdder buddyOps = new LongAdder();
    private final LongAdder buddyAllocations = new LongAdder();
    private final LongAdder buddyTimedWaits = new LongAdder();
    private final LongAdder buddyFailed = new LongAdder();
    private final BuddyArena buddy = BuddyArena.builder(256 * 1024, 64).name("soak-buddy").build();
    private final MpmcAtomicArrayQueue<Long> buddyQueue = new MpmcAtomicArrayQueue<>(1024);

    private final FixedArena arena = FixedArena.builder(SLOTS, SLOT_CAPACITY).initPolicy(InitPolicy.ZERO)
        .name("soak-pool").build();
    private final SliceAllocator slices = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(1024).build();
    private final ThreadLakes lakes = ThreadLakes.builder(64 * 1024).poolBound(4).build();
    private final MpmcAtomicArrayQueue<Bytes> bytesQueue = new MpmcAtomicArrayQueue<>(1024);
    private final MpmcAtomicArrayQueue<Long> handleQueue = new MpmcAtomicArrayQueue<>(1024);
    private final MpmcAtomicArrayQueue<SharedSlice> sliceQueue = new MpmcAtomicArrayQueue<>(1024);
    private final MpmcAtomicArrayQueue<Long> refQueue = new MpmcAtomicArrayQueue<>(1024);

    private Soak()
    {
    }

    /**
     * Runs the soak.
     *
     * @param args {@code --seconds N}, {@code --threads N}, {@code --report S}.
     * @throws InterruptedException if interrupted while waiting.
     */
    public static void main(final String[] args) throws InterruptedException
    {
        long seconds = 600;
        int threads = Math.max(8, 4 * Runtime.getRuntime().availableProcessors());
        long report = 10;
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--seconds" -> seconds = Long.parseLong(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--report" -> report = Long.parseLong(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i] +
                    " (use --seconds N, --threads N, --report S)");
            }
        }
        final long baseline = NativeMemory.reservedBytes();
        final long leaksBefore = NativeMemory.leaks();
        final Soak soak = new Soak();
        final boolean ok = soak.run(seconds, threads, report, baseline, leaksBefore);
        System.exit(ok ? 0 : 1);
    }

    private boolean run(final long seconds, final int threads, final long report, final long baseline,
        final long leaksBefore) throws InterruptedException
    {
        System.out.printf(Locale.ROOT, "soak: %d s, %d worker threads + 1 slice producer + churn, baseline %d native bytes%n",
            seconds, threads, baseline);
        final List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++)
        {
            final int kind = i % 5;
            workers.add(start("soak-" + kind + "-" + i, () -> worker(kind)));
        }
        workers.add(start("soak-slices", this::slicesProducer));
        workers.add(start("soak-churn", this::churn));

        final long start = System.nanoTime();
        final long end = start + TimeUnit.SECONDS.toNanos(seconds);
        long last = start;
        long[] lastCounts = counts();
        while (System.nanoTime() < end)
        {
            final long wait = Math.min(TimeUnit.SECONDS.toNanos(report), end - System.nanoTime());
            TimeUnit.NANOSECONDS.sleep(Math.max(1, wait)); // a reporting tick, not a test wait
            final long now = System.nanoTime();
            final long[] c = counts();
            final double dt = (now - last) / 1e9;
            System.out.printf(Locale.ROOT,
                "t=%4.0fs  pool objects %,10.0f/s  pool handles %,10.0f/s  slices %,10.0f/s  thread lakes %,10.0f/s" +
                    "  churned threads %,6.0f/s  live slots %3d  slice chunks %3d%n",
                (now - start) / 1e9, (c[0] - lastCounts[0]) / dt, (c[1] - lastCounts[1]) / dt, (c[2] - lastCounts[2]) / dt,
                (c[3] - lastCounts[3]) / dt, (c[4] - lastCounts[4]) / dt, arena.liveSlots(), slices.stats().liveChunks());
            last = now;
            lastCounts = c;
        }
        running.set(false);
        for (final Thread t : workers)
        {
            t.join();
        }
        drain();
        return verify(baseline, leaksBefore);
    }

    private long[] counts()
    {
        return new long[]{objectOps.sum(), handleOps.sum(), sliceOps.sum(), lakeOps.sum(), churnedThreads.sum()};
    }

    private Thread start(final String name, final Runnable body)
    {
        final Thread t = new Thread(() ->
        {
            try
            {
                body.run();
            }
            catch (final Throwable ex)
            {
                violation(Thread.currentThread().getName() + " died: " + ex);
                ex.printStackTrace();
            }
        }, name);
        t.start();
        return t;
    }

    private synchronized void violation(final String what)
    {
        if (violations.size() < 100)
        {
            violations.add(what);
        }
        System.out.println("VIOLATION: " + what);
    }

    // ------------------------------------------------------------------------------------------------ workloads

    private void worker(final int kind)
    {
        final long id = Thread.currentThread().getId();
        long seq = 0;
        while (running.get())
        {
            seq++;
            switch (kind)
            {
                case 0 -> objectTier(id, seq);
                case 1 -> handleTier(id, seq);
                case 2 -> consumeSlices();
                case 4 -> buddyTier(id, seq);
                default -> threadLake(seq);
            }
        }
        lakes.release(); // the thread lake of a kind-3 worker goes back to the pool
    }

    /** Object tier: produce one Bytes (shared through the queue), consume one. */
    private void objectTier(final long id, final long seq)
    {
        final Buffer buffer = arena.tryAllocate();
        if (buffer == null)
        {
            failed.increment();
        }
        else
        {
            allocations.increment();
            final long stamp = id << 32 | (seq & 0xFFFF_FFFFL);
            final int extra = (int)(seq % (SLOT_CAPACITY - 16));
            buffer.putLong(stamp).putLong(~stamp);
            for (int i = 0; i < extra; i++)
            {
                buffer.putByte((byte)stamp);
            }
            if ((seq & 15) == 0)
            {
                buffer.close(); // never frozen: the slot goes back at once
            }
            else
            {
                final Bytes bytes = buffer.freeze();
                frozen.increment();
                final Bytes shared = (seq & 1) == 0 ? bytes.retain() : bytes.slice(0, 16);
                bytes.release();
                if (!bytesQueue.offer(shared))
                {
                    checkBytes(shared);
                }
            }
        }
        final Bytes other = bytesQueue.poll();
        if (other != null)
        {
            checkBytes(other);
        }
        objectOps.increment();
    }

    private void checkBytes(final Bytes bytes)
    {
        final long stamp = bytes.getLong(0);
        if (bytes.getLong(8) != ~stamp)
        {
            corrupt.incrementAndGet();
            violation("corrupt Bytes: " + Long.toHexString(stamp) + " / " + Long.toHexString(bytes.getLong(8)));
        }
        bytes.release();
        try
        {
            bytes.getLong(0);
            violation("a released Bytes was readable");
        }
        catch (final StaleHandleException expected)
        {
            // the reference is gone, whatever other references do
        }
    }

    /** Handle tier: produce one frozen handle with two references, consume one from the queue. */
    private void handleTier(final long id, final long seq)
    {
        final long h = arena.tryAllocateHandle();
        if (h == FixedArena.NO_HANDLE)
        {
            failed.increment();
        }
        else
        {
            allocations.increment();
            final long stamp = id << 32 | (seq & 0xFFFF_FFFFL);
            arena.putLong(h, 0, stamp);
            arena.putLong(h, 8, ~stamp);
            arena.freezeHandle(h, 16);
            frozen.increment();
            arena.retain(h); // one reference for the consumer, one kept here
            if (!handleQueue.offer(h))
            {
                checkHandle(h);
            }
            if (arena.getLong(h, 0) != stamp)
            {
                corrupt.incrementAndGet();
                violation("handle bytes changed under a live reference");
            }
            arena.release(h);
        }
        final Long other = handleQueue.poll();
        if (other != null)
        {
            checkHandle(other);
        }
        if ((seq & 4095) == 0)
        {
            hoard();
        }
        handleOps.increment();
    }

    /**
     * BuddyArena: a handle of a size from 1 B to 32 KiB, stamped, frozen, shared through a queue and released by
     * whoever takes it; one request in 64 waits up to 1 ms for capacity instead of failing at once.
     */
    private void buddyTier(final long id, final long seq)
    {
        final int size = 1 + (int)((seq * 0x9E3779B97F4A7C15L >>> 40) % (32 * 1024));
        long h = BuddyArena.NO_HANDLE;
        if ((seq & 63) == 0)
        {
            buddyTimedWaits.increment();
            try
            {
                final dev.lake.pool.Buffer waited = buddy.allocate(Math.max(16, size), java.time.Duration.ofMillis(1));
                buddyAllocations.increment();
                waited.putLong(id).putLong(~id);
                waited.close();
            }
            catch (final AllocationTimeoutException timedOut)
            {
                // no capacity within 1 ms: counted as a timed-out wait, nothing held
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        else
        {
            h = buddy.tryAllocateHandle(Math.max(16, size));
            if (h == BuddyArena.NO_HANDLE)
            {
                buddyFailed.increment(); // full, or capacity reserved for a waiter
            }
        }
        if (h != BuddyArena.NO_HANDLE)
        {
            buddyAllocations.increment();
            final long stamp = id << 32 | (seq & 0xFFFF_FFFFL);
            buddy.putLong(h, 0, stamp);
            buddy.putLong(h, 8, ~stamp);
            buddy.freezeHandle(h, 16);
            if (!buddyQueue.offer(h))
            {
                checkBuddy(h);
            }
        }
        final Long other = buddyQueue.poll();
        if (other != null)
        {
            checkBuddy(other);
        }
        if ((seq & 4095) == 0)
        {
            buddyHoard();
        }
        buddyOps.increment();
    }

    /** Fills the buddy arena (racing the others), waits up to 1 ms for one more block while holding, gives all back. */
    private void buddyHoard()
    {
        final long[] held = new long[256 * 1024 / 8192 + 1]; // one more than fits: the last claim must fail
        int n = 0;
        long h;
        while (n < held.length && (h = buddy.tryAllocateHandle(8192)) != BuddyArena.NO_HANDLE)
        {
            buddyAllocations.increment();
            held[n++] = h;
        }
        if (n < held.length)
        {
            buddyFailed.increment(); // the claim that found the arena full
        }
        buddyTimedWaits.increment();
        try
        {
            buddy.allocate(8192, java.time.Duration.ofMillis(1)).close();
            buddyAllocations.increment();
        }
        catch (final AllocationTimeoutException timedOut)
        {
            // nobody released in time: nothing held
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        for (int i = 0; i < n; i++)
        {
            buddy.release(held[i]);
        }
    }

    private void checkBuddy(final long h)
    {
        final long stamp = buddy.getLong(h, 0);
        if (buddy.getLong(h, 8) != ~stamp)
        {
            corrupt.incrementAndGet();
            violation("corrupt buddy block: " + Long.toHexString(stamp));
        }
        buddy.release(h);
    }

    /** Claims slots until the arena is full (racing the other threads), then gives them all back. */
    private void hoard()
    {
        final long[] held = new long[SLOTS];
        int n = 0;
        long h;
        while (n < SLOTS && (h = arena.tryAllocateHandle()) != FixedArena.NO_HANDLE)
        {
            allocations.increment();
            held[n++] = h;
        }
        if (n < SLOTS)
        {
            failed.increment(); // the claim that found the arena full
        }
        for (int i = 0; i < n; i++)
        {
            arena.release(held[i]);
        }
    }

    private void checkHandle(final long h)
    {
        final long stamp = arena.getLong(h, 0);
        if (arena.getLong(h, 8) != ~stamp)
        {
            corrupt.incrementAndGet();
            violation("corrupt handle bytes");
        }
        arena.release(h);
    }

    /** The one allocating thread of the slice allocator (strict mode): shares and references for the consumers. */
    private void slicesProducer()
    {
        long seq = 0;
        while (running.get())
        {
            seq++;
            final long base = seq * 1000;
            final int length = 1 + (int)(seq % 200);
            if ((seq & 1) == 0)
            {
                final SharedSlice slice = slices.allocateLongs(length, i -> base + i);
                slicesCut.increment();
                final SharedSlice share = slice.share();
                slice.release();
                if (!sliceQueue.offer(share))
                {
                    checkSlice(share);
                }
            }
            else
            {
                final long ref = slices.allocateLongsRef(length, i -> base + i);
                slicesCut.increment();
                slices.retain(ref);
                slices.release(ref);
                if (!refQueue.offer(ref))
                {
                    checkRef(ref);
                }
            }
            sliceOps.increment();
            if ((seq & 1023) == 0)
            {
                Thread.yield(); // let the consumers catch up on a 2-core machine
            }
        }
        slices.close(); // the allocating thread closes it; the queues' slices keep their chunks
    }

    private void consumeSlices()
    {
        final SharedSlice s = sliceQueue.poll();
        if (s != null)
        {
            checkSlice(s);
            sliceOps.increment();
        }
        final Long r = refQueue.poll();
        if (r != null)
        {
            checkRef(r);
            sliceOps.increment();
        }
        if (s == null && r == null)
        {
            Thread.onSpinWait();
        }
    }

    private void checkSlice(final SharedSlice s)
    {
        final long base = s.getLong(0);
        final int last = s.length() - 1;
        if (base % 1000 != 0 || s.getLong(last) != base + last)
        {
            corrupt.incrementAndGet();
            violation("corrupt slice " + base);
        }
        s.release();
    }

    private void checkRef(final long ref)
    {
        final long base = slices.getLong(ref, 0);
        final int last = slices.length(ref) - 1;
        if (base % 1000 != 0 || slices.getLong(ref, last) != base + last)
        {
            corrupt.incrementAndGet();
            violation("corrupt slice reference " + base);
        }
        slices.release(ref);
    }

    /** Thread lake scratch work: allocate, write, read back inside with(); the position is restored. */
    private void threadLake(final long seq)
    {
        final Lake lake = lakes.init();
        final int before = lake.position();
        final long sum = lakes.with(l ->
        {
            final int at = l.allocateLongs(16);
            for (int i = 0; i < 16; i++)
            {
                l.buffer().putLong(at + i * 8, seq + i);
            }
            long total = 0;
            for (int i = 0; i < 16; i++)
            {
                total += l.buffer().getLong(at + i * 8);
            }
            return total;
        });
        if (sum != 16 * seq + 120 || lake.position() != before)
        {
            corrupt.incrementAndGet();
            violation("thread lake scratch wrong: " + sum + " at " + lake.position());
        }
        lakeOps.increment();
    }

    /** Short-lived threads that take a thread lake; half die without releasing it. */
    private void churn()
    {
        while (running.get())
        {
            final boolean polite = ThreadLocalRandom.current().nextBoolean();
            final Thread t = new Thread(() ->
            {
                lakes.init().allocate(64);
                if (polite)
                {
                    lakes.release();
                }
            }, "soak-churn-child");
            t.start();
            try
            {
                t.join();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
            churnedThreads.increment();
        }
    }

    // --------------------------------------------------------------------------------------------------- checks

    private void drain()
    {
        Bytes b;
        while ((b = bytesQueue.poll()) != null)
        {
            checkBytes(b);
        }
        Long h;
        while ((h = handleQueue.poll()) != null)
        {
            checkHandle(h);
        }
        SharedSlice s;
        while ((s = sliceQueue.poll()) != null)
        {
            checkSlice(s);
        }
        Long r;
        while ((r = refQueue.poll()) != null)
        {
            checkRef(r);
        }
        Long bh;
        while ((bh = buddyQueue.poll()) != null)
        {
            checkBuddy(bh);
        }
    }

    private boolean verify(final long baseline, final long leaksBefore)
    {
        final FixedArenaMetrics m = arena.metrics();
        expect("pool live slots", 0, m.liveSlots());
        expect("pool allocations", allocations.sum(), m.allocations());
        expect("pool frees", allocations.sum(), m.frees());
        expect("pool failed allocations", failed.sum(), m.failedAllocations());
        expect("pool frozen", frozen.sum(), m.frozen());
        expect("pool leaks", 0, m.leaks());
        expect("pool spills", 0, m.spills());
        expect("corrupt reads", 0, corrupt.get());
        arena.close();
        expect("pool region freed", 1, arena.isRegionFreed() ? 1 : 0);

        final BuddyArenaMetrics bm = buddy.metrics();
        expect("buddy live blocks", 0, bm.liveBlocks());
        expect("buddy allocations", buddyAllocations.sum(), bm.allocations());
        expect("buddy frees", buddyAllocations.sum(), bm.frees());
        expect("buddy coalesced back to one block", 1, bm.fullyCoalesced() ? 1 : 0);
        expect("buddy waiters left", 0, bm.waits().waiters());
        expect("buddy failed allocations", buddyFailed.sum(), bm.failedAllocations());
        if (bm.waits().completed() + bm.waits().timedOut() > buddyTimedWaits.sum())
        {
            violation("more waits ended than were made: " + bm.waits());
        }
        expect("buddy leaks", 0, bm.leaks());
        buddy.close();

        final SliceStats st = slices.stats();
        expect("slice chunks", 0, st.liveChunks());
        expect("slice reserved bytes", 0, st.reservedBytes());
        expect("slice live bytes", 0, st.liveSliceBytes());
        expect("slices cut", slicesCut.sum(), st.slicesAllocated());

        lakes.reap(); // every churned thread has ended
        final ThreadLakes.Stats ts = lakes.stats();
        expect("thread lakes still leased", 0, ts.leased());
        expect("thread lakes open", ts.pooled(), ts.created() - ts.closed());
        lakes.close();
        final ThreadLakes.Stats closed = lakes.stats();
        expect("thread lakes open after close", 0, closed.created() - closed.closed());

        expect("native bytes back to the baseline", baseline, NativeMemory.reservedBytes());
        expect("leaks reported", leaksBefore, NativeMemory.leaks());

        System.out.printf(Locale.ROOT, "soak totals: pool object ops %,d, pool handle ops %,d, buddy ops %,d " +
                "(%,d timed waits), slice ops %,d, thread lake ops %,d, churned threads %,d (%,d reclaimed after " +
                "dying without release)%n", objectOps.sum(), handleOps.sum(), buddyOps.sum(), buddyTimedWaits.sum(),
            sliceOps.sum(), lakeOps.sum(), churnedThreads.sum(), ts.reclaimed());
        System.out.printf(Locale.ROOT, "buddy metrics: %s%n", bm);
        System.out.printf(Locale.ROOT, "pool metrics: %s%nslice stats: %s%nthread lakes: %s%n", m, st, closed);
        if (violations.isEmpty())
        {
            System.out.println("SOAK OK: no violation");
            return true;
        }
        System.out.println("SOAK FAILED: " + violations.size() + " violation(s)");
        violations.forEach(v -> System.out.println("  " + v));
        return false;
    }

    private void expect(final String what, final long expected, final long actual)
    {
        if (expected != actual)
        {
            violation(what + ": expected " + expected + " but was " + actual);
        }
    }
}
