package dev.lake.thread;

import dev.lake.linear.Lake;
import dev.lake.testing.StackLadder;
import dev.lake.testing.StackLadder.Scenario;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

/**
 * Fifteenth review round of {@code dev.lake.thread}: the tests marked "Finding" failed on the code before their fix.
 *
 * <p>The {@code StackOverflowError} cases run in a child JVM in interpreted mode ({@code -Xint}), as
 * {@code FourteenthReviewLinearTest} does: a "ladder" (recurse until the stack overflows, then try the call once in each
 * frame on the way back up) cuts the call short at each of its calls in turn. Each attempt works on its own
 * {@code ThreadLakes}; after the ladder, at a normal depth, the program that caught the error retries, and every lake
 * those thread lakes built must then be pooled, closed or leased, each once: none lost, none in two places.
 */
class FifteenthReviewThreadTest
{
    private static void assertClean(final String scenario) throws Exception
    {
        StackLadder.assertClean(StackProbe.class, scenario);
    }

    /**
     * Finding: {@code release()} cut short by a {@code StackOverflowError} after the lease's one-shot claim (the CAS
     * that makes a give-back happen once) and before the lake reached the pool or was closed left the lake in no
     * place: the thread's {@code ThreadLocal} entry and the {@code Cleaner} entry were spent, the claim refused every
     * later give-back (a retried {@code release()}, the next {@code init()}'s scan, {@code reap()}, {@code close()}),
     * so the lake stayed "leased" to a live thread that held no lease, its native memory held for good.
     */
    @Test
    void aReleaseCutShortByAStackOverflowLosesNoLake() throws Exception
    {
        assertClean("release");
    }

    /** Finding, as above, in strict mode (the lake is confined to a thread that never runs before the offer). */
    @Test
    void aStrictReleaseCutShortByAStackOverflowLosesNoLake() throws Exception
    {
        assertClean("release-strict");
    }

    /**
     * Finding, as above, with no pool (every lake given back is closed). A close cut short inside the JDK's
     * {@code Cleaner} after it marked the region closed loses the region (a documented limit): the lake is then closed,
     * and the retry must count it closed once, not twice.
     */
    @Test
    void anUnpooledReleaseCutShortByAStackOverflowLosesNoLake() throws Exception
    {
        assertClean("release-unpooled");
    }

    /**
     * Pinned guard (passes before the fix too): {@code init()} cut short after it polled a lake from the pool and
     * before the lease recorded it (the confinement, the reset, the mark and sandbox checks, the zeroing switch, the lease's own allocations) would drop
     * the lake: neither pooled nor leased nor closed, its memory left to the leak safety net. The ladder reaches none
     * of those calls (the scan and the affinity hint before the poll go deeper), in strict mode or not.
     */
    @Test
    void anInitCutShortByAStackOverflowLosesNoLake() throws Exception
    {
        assertClean("init");
        assertClean("init-strict");
    }

    /**
     * Pinned guard (passes before the fix too: the ladder cannot reach the window), on a plain thread, whose lease only
     * the thread local holds: a {@code release()} cut short never leaves the thread holding a lake already given back,
     * which another thread's {@code init()} would get too. A review of this round's fix saw that window in compiled code
     * on JDK 25 (not reliably): an overflow the JDK's reserved stack delays to the end of the pool's {@code offer}, after
     * the lake was pooled; {@code release()} now drops the thread's record of the lease when its give-back throws after
     * the hand-over. The other release scenarios make the same check on a {@code LakeThread}.
     */
    @Test
    void aReleaseCutShortNeverLeavesAGivenBackLakeCurrent() throws Exception
    {
        assertClean("release-plain");
    }

    /**
     * Pinned guard (passes before the fix too): {@code with()} cut short at any of its calls (the mark it pushes, the
     * body, the rewinds of its {@code finally}) leaves the lake where it found it: no mark, the position of before.
     */
    @Test
    void aWithCutShortByAStackOverflowRestoresTheLake() throws Exception
    {
        assertClean("with");
    }

    // ------------------------------------------------------------------------------------------------------------
    // The probe (child JVM)
    // ------------------------------------------------------------------------------------------------------------

    /** Runs one scenario's ladders and prints {@code probe NAME violations N cut C attempts A}. */
    static final class StackProbe
    {
        private static final int SLOTS = StackLadder.SLOTS;
        private static final int VARIANTS = 16;

        public static void main(final String[] args) throws InterruptedException
        {
            // a LakeThread keeps the lease in its field too: the give-back clears it, and must not lose it either; the
            // "-plain" scenarios run on a plain thread, whose lease only the thread local holds
            final Runnable ladder = () -> StackLadder.probe(args[0], StackProbe::scenario, VARIANTS);
            final Thread runner = args[0].endsWith("-plain") ? new Thread(ladder, "probe") : new LakeThread(ladder, "probe");
            runner.start();
            runner.join();
        }

        private static Scenario scenario(final String name)
        {
            return switch (name)
            {
                case "release" -> new Release(false, 4);
                case "release-strict" -> new Release(true, 4);
                case "release-unpooled" -> new Release(false, 0);
                case "release-plain" -> new Release(false, 4);
                case "init" -> new Init(false);
                case "init-strict" -> new Init(true);
                case "with" -> new With();
                default -> throw new IllegalArgumentException(name);
            };
        }

        abstract static class Lakes implements Scenario
        {
            final ThreadLakes[] lakes = new ThreadLakes[SLOTS];

            /**
             * The retry at a normal depth, then the accounting: every lake built is pooled or closed (none leased,
             * none lost, none pooled twice).
             */
            final String settle(final int slot)
            {
                final ThreadLakes t = lakes[slot];
                t.release(); // the retry of a release, or the release after an init
                t.init(); // its scan gives back a lease still recorded for this thread
                t.release();
                t.reap();
                final ThreadLakes.Stats stats = t.stats();
                if (stats.leased() != 0 || stats.created() != stats.pooled() + stats.closed())
                {
                    return "a lake lost or doubled: " + stats;
                }
                return null;
            }

            @Override
            public void closeAll()
            {
                for (final ThreadLakes t : lakes)
                {
                    if (t != null)
                    {
                        t.release();
                        t.close();
                    }
                }
            }
        }

        /** A leased lake with an allocation and a mark: release() resets it and gives it back. */
        static final class Release extends Lakes
        {
            private final boolean strict;
            private final int poolBound;

            Release(final boolean strict, final int poolBound)
            {
                this.strict = strict;
                this.poolBound = poolBound;
            }

            @Override
            public void build(final int slot)
            {
                final ThreadLakes t = ThreadLakes.builder(4096).poolBound(poolBound).strict(strict).build();
                lakes[slot] = t;
                final Lake lake = t.init();
                lake.allocate(64);
                lake.mark();
                lake.allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].release();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final String held = heldAfterRelease(lakes[slot]);
                return held != null ? held : settle(slot);
            }

            /**
             * Before the retry: the thread holds its lake, not given back, or none; never a lake that is pooled, which
             * another thread's init() would get too.
             */
            private static String heldAfterRelease(final ThreadLakes t)
            {
                final Lake mine;
                try
                {
                    mine = t.current();
                }
                catch (final IllegalStateException none)
                {
                    return null;
                }
                final ThreadLakes.Stats stats = t.stats();
                final AtomicReference<Lake> other = new AtomicReference<>();
                final Thread thief = new Thread(() -> other.set(t.init()), "thief"); // dies holding it: settle reaps it
                thief.start();
                try
                {
                    thief.join();
                }
                catch (final InterruptedException ex)
                {
                    throw new AssertionError(ex);
                }
                if (other.get() == mine)
                {
                    return "current() still returns the lake it gave back, now another thread's too: " + stats;
                }
                return stats.pooled() != 0 ? "current() returns a lake while one is pooled: " + stats : null;
            }
        }

        /** A leased lake: with() allocates and pushes a mark inside, and must leave the lake as it found it. */
        static final class With extends Lakes
        {
            @Override
            public void build(final int slot)
            {
                final ThreadLakes t = ThreadLakes.builder(4096).poolBound(4).build();
                lakes[slot] = t;
                t.init().allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].with(lake ->
                {
                    lake.allocate(64);
                    lake.mark();
                    return lake.allocate(64);
                });
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot].current();
                if (lake.markDepth() != 0 || lake.position() != 64)
                {
                    return "with() left marks " + lake.markDepth() + " and position " + lake.position();
                }
                return settle(slot);
            }
        }

        /** A pooled lake: init() polls it and leases it to this thread. */
        static final class Init extends Lakes
        {
            private final boolean strict;

            Init(final boolean strict)
            {
                this.strict = strict;
            }

            @Override
            public void build(final int slot)
            {
                final ThreadLakes t = ThreadLakes.builder(4096).poolBound(4).strict(strict).build();
                lakes[slot] = t;
                t.init();
                t.release();
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].init();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                return settle(slot);
            }
        }
    }
}
