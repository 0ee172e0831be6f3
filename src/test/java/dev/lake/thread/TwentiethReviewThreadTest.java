package dev.lake.thread;

import dev.lake.linear.Lake;
import dev.lake.testing.StackLadder;
import dev.lake.testing.StackLadder.Scenario;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * Twentieth review round of {@code dev.lake.thread}: {@code ThreadLakes.with()} now runs its body inside a sandbox
 * token of its own and ends it in its {@code finally} with {@code Lake.endSandboxes(depth)}.
 *
 * <p>The {@code StackOverflowError} cases run in an interpreted child JVM through {@link StackLadder}, as
 * {@code FifteenthReviewThreadTest} does.
 */
class TwentiethReviewThreadTest
{
    /**
     * Finding. with()'s Javadoc: "Runs work on the calling thread's lake and restores the lake's position afterwards,
     * whether it returns or throws"; FifteenthReviewThreadTest pins "with() cut short at any of its calls ... leaves the
     * lake where it found it". On a zeroing lake the finally's {@code endSandboxes(depth)} is the deepest call of with()
     * (rollbackSandbox, rewindTo, the wipe through UnsafeBuffer.setMemory), deeper than the preamble (a token id that is
     * a plain increment, the lease a field read on a LakeThread) and than a body that allocates. A body that overflows
     * the stack (a recursion: the ordinary way to get a StackOverflowError) near the stack's edge, or one that simply
     * returns there, has its with() cut short inside the finally: with()'s own sandbox stays open for good (no one holds
     * its token), the body's allocation stays (position 128, not 64), and the caller's enclosing sandbox can neither
     * commit nor close ("1 sandbox(es) opened inside it are still open") until the lake is released. The ladder finds it
     * on every stack offset (JDK 17: 32 cut-short calls of the ladder left it so, JDK 25: 16); FifteenthReviewThreadTest's "with" scenario missed it
     * because its body (a mark: Arrays.copyOf) is deeper than the finally, and the first with() on a fresh lake takes a
     * token block (TokenIds.firstOfBlock: VarHandle frames), deeper still.
     */
    @Test
    void aWithWhoseBodyOverflowsTheStackOnAZeroingLakeLeavesNoSandboxOpen() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "with-recursing-zeroing");
    }

    /** Finding, as above, with a body that returns normally: the cut comes in the finally after it. */
    @Test
    void aWithCutShortInItsFinallyOnAZeroingLakeLeavesNoSandboxOpen() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "with-zeroing");
    }

    /** Pinned guard (passes): without zeroing the finally's rewind (full path, an uncapped epoch) is never cut. */
    @Test
    void aWithCutShortOnANonZeroingLakeRestoresIt() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "with-snapshot");
        StackLadder.assertClean(StackProbe.class, "with-recursing-snapshot");
    }

    /**
     * Pinned guard (passes): release() of a zeroing lake with a mark and a sandbox open, cut short anywhere (its reset
     * wipes: the deepest call), is retried whole: the lake is pooled once, handed out clean (no mark, no sandbox,
     * zeroing off), nothing lost.
     */
    @Test
    void aReleaseOfAZeroingLakeCutShortIsRetriedWhole() throws Exception
    {
        StackLadder.assertClean(StackProbe.class, "release-zeroing");
    }

    /**
     * Pinned guard (passes): 4 threads for 1 s each, strict and not, doing with() (with a sandbox left open, a nested with(),
     * a release inside, a throw), release(), reap() and short-lived threads that die holding a lake with a sandbox open
     * at its start: no lake used by two threads at once, with() always leaves position 0, no sandbox and no mark, init()
     * always hands out a clean lake, and once quiet nothing is leased and created = closed + pooled.
     */
    @Test
    void hammer() throws Exception
    {
        for (final boolean strict : new boolean[] {false, true})
        {
            final ThreadLakes lakes = ThreadLakes.builder(8192).poolBound(2).autoInit(true).strict(strict).build();
            final java.util.concurrent.ConcurrentHashMap<Lake, Thread> inUse = new java.util.concurrent.ConcurrentHashMap<>();
            final java.util.concurrent.ConcurrentLinkedQueue<String> bad = new java.util.concurrent.ConcurrentLinkedQueue<>();
            final long end = System.nanoTime() + 1_000_000_000L;
            final Runnable work = () ->
            {
                final java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
                while (System.nanoTime() < end)
                {
                    try
                    {
                        final int op = r.nextInt(10);
                        if (op < 5)
                        {
                            lakes.with(l ->
                            {
                                if (inUse.putIfAbsent(l, Thread.currentThread()) != null)
                                {
                                    bad.add("lake used by two threads");
                                }
                                final int before = l.position();
                                final int sb = l.openSandboxes();
                                l.allocate(64);
                                if (r.nextBoolean())
                                {
                                    l.beginSandbox();
                                    l.allocate(32);
                                }
                                if (r.nextInt(4) == 0)
                                {
                                    final Integer inner = lakes.with(l2 -> l2.allocate(16));
                                }
                                inUse.remove(l);
                                if (r.nextInt(8) == 0)
                                {
                                    lakes.release();
                                    return 0;
                                }
                                if (r.nextInt(8) == 0)
                                {
                                    throw new IllegalStateException("x");
                                }
                                return before + sb;
                            });
                            final Lake l = lakes.current();
                            if (l.position() != 0 || l.openSandboxes() != 0 || l.markDepth() != 0)
                            {
                                bad.add("with left " + l.position() + " " + l.openSandboxes() + " " + l.markDepth());
                            }
                        }
                        else if (op < 7)
                        {
                            lakes.release();
                        }
                        else if (op < 8)
                        {
                            lakes.reap();
                        }
                        else
                        {
                            final Thread t = new Thread(() ->
                            {
                                final Lake l = lakes.init();
                                if (l.position() != 0 || l.openSandboxes() != 0)
                                {
                                    bad.add("init gave " + l.position() + " " + l.openSandboxes());
                                }
                                l.allocate(8);
                                if (r.nextBoolean())
                                {
                                    l.sandbox();
                                }
                            });
                            t.start();
                            t.join();
                        }
                    }
                    catch (final IllegalStateException expected)
                    {
                        if (!"x".equals(expected.getMessage()))
                        {
                            bad.add(expected.toString());
                        }
                    }
                    catch (final Throwable ex)
                    {
                        bad.add(ex.toString());
                    }
                }
                lakes.release();
            };
            final Thread[] ts = new Thread[4];
            for (int i = 0; i < ts.length; i++)
            {
                ts[i] = new Thread(work);
                ts[i].start();
            }
            for (final Thread t : ts)
            {
                t.join();
            }
            lakes.reap();
            org.junit.jupiter.api.Assertions.assertTrue(bad.isEmpty(), bad.stream().limit(5).toList().toString());
            final ThreadLakes.Stats st = lakes.stats();
            org.junit.jupiter.api.Assertions.assertEquals(0, st.leased(), st.toString());
            lakes.close();
            final ThreadLakes.Stats st2 = lakes.stats();
            org.junit.jupiter.api.Assertions.assertEquals(st2.created(), st2.closed() + st2.pooled(), st2.toString());
        }
    }

    /** Runs one scenario's ladders and prints {@code probe NAME violations N cut C attempts A}. */
    static final class StackProbe
    {
        private static final int SLOTS = StackLadder.SLOTS;

        public static void main(final String[] args) throws InterruptedException
        {
            final Runnable ladder = () -> StackLadder.probe(args[0], StackProbe::scenario, 16);
            final Thread runner = new LakeThread(ladder, "probe");
            runner.start();
            runner.join();
        }

        private static Scenario scenario(final String name)
        {
            if (name.startsWith("release"))
            {
                return new ReleaseZeroing();
            }
            return new WithLight(name.contains("zeroing"), name.startsWith("with-recursing"));
        }

        static int body(final Lake lake)
        {
            return lake.allocate(64);
        }

        static int recursingBody(final Lake lake)
        {
            lake.allocate(64);
            return recurse(0);
        }

        static int recurse(final int n)
        {
            return n == 1000 ? 0 : recurse(n + 1) + 1; // fits at a normal depth, overflows near the edge
        }

        static final class ReleaseZeroing implements Scenario
        {
            final ThreadLakes[] lakes = new ThreadLakes[SLOTS];

            @Override
            public void build(final int slot)
            {
                final ThreadLakes t = ThreadLakes.builder(4096).poolBound(4).build();
                lakes[slot] = t;
                final Lake lake = t.init();
                lake.setZeroing(true);
                lake.clear();
                lake.allocate(64);
                lake.mark();
                lake.endSandbox(lake.beginSandbox());
                lake.beginSandbox();
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
                final ThreadLakes t = lakes[slot];
                t.release();
                final Lake lake = t.init();
                if (lake.position() != 0 || lake.openSandboxes() != 0 || lake.markDepth() != 0 || lake.isZeroing())
                {
                    return "init handed out " + lake;
                }
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

        static final class WithLight implements Scenario
        {
            final ThreadLakes[] lakes = new ThreadLakes[SLOTS];
            final boolean zeroing;
            final boolean recursing;

            WithLight(final boolean zeroing, final boolean recursing)
            {
                this.zeroing = zeroing;
                this.recursing = recursing;
            }

            @Override
            public void build(final int slot)
            {
                final ThreadLakes t = ThreadLakes.builder(4096).poolBound(4).build();
                lakes[slot] = t;
                final Lake lake = t.init();
                if (zeroing)
                {
                    lake.setZeroing(true);
                    lake.clear(); // dirtyEnd at the start: the body's allocation wipes nothing, the finally's rewind does
                }
                lake.allocate(64);
                lake.endSandbox(lake.beginSandbox()); // the lake's first token block is taken: with()'s token is a plain increment
                if (!zeroing)
                {
                    lake.snapshot(); // an uncapped epoch: the finally's rewind takes the full path
                }
            }

            @Override
            public void attempt(final int slot)
            {
                lakes[slot].with(recursing ? StackProbe::recursingBody : StackProbe::body);
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Lake lake = lakes[slot].current();
                // the fix ends with()'s sandbox before its rewind: cut short in the rewind's wipe, the body's 64 bytes
                // stay (a documented limit), but no sandbox is ever left open with nobody to end it
                final boolean keptBytes = wasCut && lake.position() == 128;
                if (lake.openSandboxes() != 0 || lake.position() != 64 && !keptBytes)
                {
                    return "with() left " + lake.openSandboxes() + " sandbox(es) open and position " + lake.position();
                }
                if (keptBytes)
                {
                    lake.reset(); // an enclosing rewind (here the full one) gives the kept bytes back
                    if (lake.position() != 0)
                    {
                        return "the bytes kept by with() cut short did not come back with a rewind";
                    }
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
    }
}
